// ReconSync service wrapper for Windows.
//
// node.exe does not speak the Service Control Manager protocol, so the SCM kills it
// 30 s after "start" (error 1053). This small host does: it starts node with the
// agent, writes node's output to rolling log files, forwards "stop" to node as a
// Ctrl+C (node turns it into SIGINT; the agent ends its own work and exits within
// seconds), and exits with a failure when node dies on its own so the SCM
// recovery actions (restart) apply.
//
// Game servers: the agreed behaviour (README "What stopping the agent does to
// games") is that stopping the agent never stops a game and a host shutdown stops
// every game gracefully. On Linux that holds. On Windows it does not yet: games
// are node's children inside its job object and share this console, so they end
// with node (no save), and STOP and SHUTDOWN are handled alike here. The fix
// (games launched outside node's job with their own console, PRESHUTDOWN running
// `reconsync agent stop-games`) is tracked in the Windows issue.
//
// install-agent.ps1 compiles this file with the C# compiler of the .NET Framework 4.x
// that ships with every supported Windows, so nothing is downloaded at install time.
// Keep it to C# 5 (that compiler's level): no string interpolation, no ?., no =>.
//
// Settings come from <exe name>.xml next to the exe (written by install-agent.ps1):
//   <service>
//     <id>ReconSyncAgent</id>
//     <executable>C:\Program Files\nodejs\node.exe</executable>
//     <argument>...</argument>  (repeated, passed as separate argv entries)
//     <workingdirectory>...</workingdirectory>
//     <logpath>...</logpath> <logmaxbytes>10485760</logmaxbytes> <logkeep>5</logkeep>
//     <stoptimeoutseconds>120</stoptimeoutseconds>
//     <envfile>...</envfile>   (optional KEY=value lines: secrets for ${VAR} in agent.yaml)
//     <env name="KEY" value="..."/>  (optional, repeated)
//   </service>

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.ServiceProcess;
using System.Text;
using System.Threading;
using System.Xml;

namespace ReconSync
{
    public sealed class WrapperSettings
    {
        public string Id = "ReconSyncAgent";
        public string Executable;
        public List<string> Arguments = new List<string>();
        public string WorkingDirectory;
        public string LogPath;
        public long LogMaxBytes = 10L * 1024 * 1024;
        public int LogKeep = 5;
        public int StopTimeoutSeconds = 120;
        public string EnvFile;
        public Dictionary<string, string> Env = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        public static WrapperSettings Load(string xmlPath)
        {
            var doc = new XmlDocument();
            doc.Load(xmlPath);
            XmlElement root = doc.DocumentElement;
            if (root == null || root.Name != "service") throw new InvalidDataException(xmlPath + ": the root element must be <service>");
            var s = new WrapperSettings();
            foreach (XmlNode node in root.ChildNodes)
            {
                var el = node as XmlElement;
                if (el == null) continue;
                string text = el.InnerText.Trim();
                switch (el.Name)
                {
                    case "id": s.Id = text; break;
                    case "executable": s.Executable = text; break;
                    case "argument": s.Arguments.Add(el.InnerText); break;
                    case "workingdirectory": s.WorkingDirectory = text; break;
                    case "logpath": s.LogPath = text; break;
                    case "logmaxbytes": s.LogMaxBytes = long.Parse(text); break;
                    case "logkeep": s.LogKeep = int.Parse(text); break;
                    case "stoptimeoutseconds": s.StopTimeoutSeconds = int.Parse(text); break;
                    case "envfile": s.EnvFile = text; break;
                    case "env": s.Env[el.GetAttribute("name")] = el.GetAttribute("value"); break;
                    default: throw new InvalidDataException(xmlPath + ": unknown element <" + el.Name + ">");
                }
            }
            if (string.IsNullOrEmpty(s.Executable)) throw new InvalidDataException(xmlPath + ": <executable> is required");
            if (string.IsNullOrEmpty(s.LogPath)) s.LogPath = Path.GetDirectoryName(xmlPath);
            if (string.IsNullOrEmpty(s.WorkingDirectory)) s.WorkingDirectory = Path.GetDirectoryName(xmlPath);
            return s;
        }

        public string CommandLineArguments()
        {
            var parts = new List<string>();
            foreach (string a in Arguments) parts.Add(QuoteArgument(a));
            return string.Join(" ", parts.ToArray());
        }

        /// <summary>KEY=value lines; # comments and blank lines ignored; optional quotes around the value.</summary>
        public static Dictionary<string, string> ReadEnvFile(string file)
        {
            var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string raw in File.ReadAllLines(file))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                int eq = line.IndexOf('=');
                if (eq <= 0) continue;
                string key = line.Substring(0, eq).Trim();
                string value = line.Substring(eq + 1).Trim();
                if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[value.Length - 1] == value[0])
                    value = value.Substring(1, value.Length - 2);
                result[key] = value;
            }
            return result;
        }

        /// <summary>Quotes one argv entry the way CommandLineToArgvW / the MSVC runtime (and node) parse it.</summary>
        public static string QuoteArgument(string arg)
        {
            if (arg.Length > 0 && arg.IndexOfAny(new[] { ' ', '\t', '\n', '\v', '"' }) < 0) return arg;
            var sb = new StringBuilder("\"");
            int backslashes = 0;
            foreach (char c in arg)
            {
                if (c == '\\') { backslashes++; continue; }
                if (c == '"') { sb.Append('\\', backslashes * 2 + 1); sb.Append('"'); }
                else { sb.Append('\\', backslashes); sb.Append(c); }
                backslashes = 0;
            }
            sb.Append('\\', backslashes * 2);
            sb.Append('"');
            return sb.ToString();
        }
    }

    /// <summary>Appends to &lt;id&gt;.log and rolls it to .1.log ... .N.log past the size limit.</summary>
    public sealed class RollingLog : IDisposable
    {
        private readonly object gate = new object();
        private readonly string path;
        private readonly long maxBytes;
        private readonly int keep;
        private StreamWriter writer;
        private bool disposed;

        public RollingLog(string dir, string name, long maxBytes, int keep)
        {
            Directory.CreateDirectory(dir);
            this.path = Path.Combine(dir, name + ".log");
            this.maxBytes = maxBytes;
            this.keep = Math.Max(1, keep);
            Open();
        }

        private void Open()
        {
            writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite), new UTF8Encoding(false));
            writer.AutoFlush = true;
        }

        public void Line(string text)
        {
            if (text == null) return;
            lock (gate)
            {
                // Late output can arrive after the stop closed the log: drop it rather than crash.
                if (disposed) return;
                writer.WriteLine(text);
                if (writer.BaseStream.Length < maxBytes) return;
                writer.Dispose();
                for (int i = keep - 1; i >= 1; i--)
                {
                    string older = Rolled(i + 1), newer = Rolled(i);
                    if (File.Exists(older)) File.Delete(older);
                    if (File.Exists(newer)) File.Move(newer, older);
                }
                if (File.Exists(Rolled(1))) File.Delete(Rolled(1));
                File.Move(path, Rolled(1));
                Open();
            }
        }

        private string Rolled(int n)
        {
            return Path.ChangeExtension(path, null) + "." + n + ".log";
        }

        public void Dispose()
        {
            lock (gate)
            {
                if (disposed) return;
                disposed = true;
                writer.Dispose();
            }
        }
    }

    public sealed class AgentService : ServiceBase
    {
        // Exit codes of `reconsync` that restarting cannot fix (usage error, invalid config).
        private static readonly int[] PermanentExitCodes = { 2, 3 };

        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool AttachConsole(uint processId);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool FreeConsole();
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool SetConsoleCtrlHandler(IntPtr handler, bool add);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool GenerateConsoleCtrlEvent(uint ctrlEvent, uint processGroupId);
        private const uint CtrlCEvent = 0;

        private readonly WrapperSettings settings;
        private RollingLog log;
        private Process child;
        private volatile bool stopping;

        public AgentService(WrapperSettings settings)
        {
            this.settings = settings;
            ServiceName = settings.Id;
            CanStop = true;
            CanShutdown = true;
            AutoLog = true;
        }

        protected override void OnStart(string[] args)
        {
            log = new RollingLog(settings.LogPath, settings.Id, settings.LogMaxBytes, settings.LogKeep);
            var psi = new ProcessStartInfo(settings.Executable);
            psi.Arguments = settings.CommandLineArguments();
            psi.WorkingDirectory = settings.WorkingDirectory;
            psi.UseShellExecute = false;
            // A console of its own (invisible in session 0) is what lets OnStop deliver Ctrl+C.
            psi.CreateNoWindow = false;
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            psi.RedirectStandardInput = true;
            psi.StandardOutputEncoding = Encoding.UTF8;
            psi.StandardErrorEncoding = Encoding.UTF8;
            if (!string.IsNullOrEmpty(settings.EnvFile) && File.Exists(settings.EnvFile))
                foreach (var kv in WrapperSettings.ReadEnvFile(settings.EnvFile)) psi.EnvironmentVariables[kv.Key] = kv.Value;
            foreach (var kv in settings.Env) psi.EnvironmentVariables[kv.Key] = kv.Value;

            log.Line(Stamp() + " [wrapper] starting " + settings.Executable + " " + psi.Arguments);
            child = new Process();
            child.StartInfo = psi;
            child.EnableRaisingEvents = true;
            child.OutputDataReceived += delegate(object s, DataReceivedEventArgs e) { log.Line(e.Data); };
            child.ErrorDataReceived += delegate(object s, DataReceivedEventArgs e) { log.Line(e.Data); };
            child.Exited += OnChildExited;
            child.Start();
            child.BeginOutputReadLine();
            child.BeginErrorReadLine();
        }

        private void OnChildExited(object sender, EventArgs e)
        {
            if (stopping) return;
            int code = child.ExitCode;
            log.Line(Stamp() + " [wrapper] the agent exited on its own with code " + code);
            if (Array.IndexOf(PermanentExitCodes, code) >= 0)
            {
                // A clean, reported stop: the SCM does not run the recovery actions, so an
                // invalid agent.yaml does not restart forever. Fix it, then start the service.
                log.Line(Stamp() + " [wrapper] not restarting: fix the configuration, then start the service again");
                ExitCode = code;
                stopping = true;
                Stop();
                return;
            }
            // Ending the process without reporting SERVICE_STOPPED is a failure to the SCM,
            // which then applies the recovery actions (restart with delay) set by the installer.
            log.Dispose();
            Environment.Exit(code == 0 ? 1 : code);
        }

        protected override void OnStop()
        {
            StopChild();
        }

        protected override void OnShutdown()
        {
            StopChild();
        }

        private void StopChild()
        {
            stopping = true;
            Process p = child;
            if (p == null || p.HasExited) return;
            int timeoutMs = Math.Max(1, settings.StopTimeoutSeconds) * 1000;
            RequestAdditionalTime(timeoutMs + 15000);
            log.Line(Stamp() + " [wrapper] stopping: sending Ctrl+C, waiting up to " + settings.StopTimeoutSeconds + " s");
            bool exited = SendCtrlC(p) && p.WaitForExit(timeoutMs);
            if (!exited)
            {
                log.Line(Stamp() + " [wrapper] the agent did not stop in time; killing its process tree");
                KillTree(p.Id);
                p.WaitForExit(10000);
            }
            log.Line(Stamp() + " [wrapper] stopped");
            log.Dispose();
        }

        private static bool SendCtrlC(Process p)
        {
            // We have no console (services don't); borrow the child's, send Ctrl+C to it
            // while ignoring it ourselves, then let go of it.
            FreeConsole();
            if (!AttachConsole((uint)p.Id)) return false;
            try
            {
                SetConsoleCtrlHandler(IntPtr.Zero, true);
                return GenerateConsoleCtrlEvent(CtrlCEvent, 0);
            }
            finally
            {
                FreeConsole();
                // Restored only after the event had time to be delivered to every attached process.
                Thread.Sleep(500);
                SetConsoleCtrlHandler(IntPtr.Zero, false);
            }
        }

        private static void KillTree(int pid)
        {
            // .NET Framework's Process.Kill has no "entire tree"; taskkill does.
            var psi = new ProcessStartInfo(Path.Combine(Environment.SystemDirectory, "taskkill.exe"), "/PID " + pid + " /T /F");
            psi.UseShellExecute = false;
            psi.CreateNoWindow = true;
            using (Process k = Process.Start(psi)) { k.WaitForExit(15000); }
        }

        private static string Stamp()
        {
            return DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
        }
    }

    public static class Program
    {
        public static int Main(string[] args)
        {
            // The entry assembly, not the process image: the same under a host such as mono.
            string exe = System.Reflection.Assembly.GetEntryAssembly().Location;
            string xml = Path.ChangeExtension(exe, ".xml");
            WrapperSettings settings;
            try
            {
                settings = WrapperSettings.Load(xml);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("cannot read " + xml + ": " + e.Message);
                return 3;
            }
            if (args.Length > 0 && args[0] == "--check")
            {
                // install-agent.ps1 runs this to prove the exe and its XML load before registering:
                // prints the command line the service will run and the names of the variables it adds.
                Console.WriteLine(settings.Id);
                Console.WriteLine(WrapperSettings.QuoteArgument(settings.Executable) + " " + settings.CommandLineArguments());
                var names = new List<string>();
                if (!string.IsNullOrEmpty(settings.EnvFile) && File.Exists(settings.EnvFile))
                    names.AddRange(WrapperSettings.ReadEnvFile(settings.EnvFile).Keys);
                names.AddRange(settings.Env.Keys);
                Console.WriteLine("env: " + string.Join(" ", names.ToArray()));
                return 0;
            }
            if (Environment.UserInteractive)
            {
                // Started by hand rather than by the SCM: say how to use it instead of hanging.
                Console.Error.WriteLine("This is the " + settings.Id + " service host; start it with: Start-Service " + settings.Id + " (or --check to test its settings)");
                return 2;
            }
            ServiceBase.Run(new AgentService(settings));
            return 0;
        }
    }
}
