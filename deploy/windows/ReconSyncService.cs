// ReconSync service wrapper for Windows.
//
// node.exe does not speak the Service Control Manager protocol, so the SCM kills it
// 30 s after "start" (error 1053). This small host does (ServiceHost.cs): it starts
// node with the agent inside a job (so node never outlives it), writes node's output
// to rolling log files, and exits with a failure when node dies on its own so the SCM
// recovery actions (restart) apply.
//
// Game servers (README "What stopping the agent does to games"): stopping the agent
// never stops a game, and a host shutdown stops every game gracefully.
//   - The agent starts games through this same exe (`--launch`, GameProcess.cs): each
//     game gets a hidden console of its own, outside node's job, so node's exit never
//     touches it and the next agent adopts it; `--ctrl-c <pid>` stops one game the way
//     Ctrl+C in its window would.
//   - STOP sends node Ctrl+C and waits; games keep running. PRESHUTDOWN (host going
//     down) stops node, then runs `reconsync agent stop-games` (AgentLifecycle.cs).
//
// install-agent.ps1 compiles the *.cs files here with the C# compiler of the .NET
// Framework 4.x that ships with every supported Windows, so nothing is downloaded at
// install time. Keep it to C# 5 (that compiler's level): no string interpolation, no ?., no =>.
//
// Settings come from <exe name>.xml next to the exe (written by install-agent.ps1):
//   <service>
//     <id>ReconSyncAgent</id>
//     <executable>C:\Program Files\nodejs\node.exe</executable>
//     <argument>...</argument>  (repeated, passed as separate argv entries)
//     <stopgamesargument>...</stopgamesargument>  (repeated: node's arguments for `agent stop-games`)
//     <workingdirectory>...</workingdirectory>
//     <logpath>...</logpath> <logmaxbytes>10485760</logmaxbytes> <logkeep>5</logkeep>
//     <stoptimeoutseconds>120</stoptimeoutseconds>      (STOP: how long the agent may take)
//     <stopgamestimeoutseconds>600</stopgamestimeoutseconds>  (PRESHUTDOWN: how long stop-games may take)
//     <envfile>...</envfile>   (optional KEY=value lines: secrets for ${VAR} in agent.yaml)
//     <env name="KEY" value="..."/>  (optional, repeated)
//   </service>

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
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
        public List<string> StopGamesArguments = new List<string>();
        public int StopGamesTimeoutSeconds = 600;
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
                    case "stopgamesargument": s.StopGamesArguments.Add(el.InnerText); break;
                    case "stopgamestimeoutseconds": s.StopGamesTimeoutSeconds = int.Parse(text); break;
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
            return JoinArguments(Arguments);
        }

        public static string JoinArguments(List<string> arguments)
        {
            var parts = new List<string>();
            foreach (string a in arguments) parts.Add(QuoteArgument(a));
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
        private DateTime retryRollAt = DateTime.MinValue;

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
            writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false));
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
                if (writer.BaseStream.Length < maxBytes || DateTime.UtcNow < retryRollAt) return;
                writer.Dispose();
                try
                {
                    Roll();
                }
                catch (Exception e)
                {
                    // Someone tails the log, or an antivirus scanner holds it: keep writing to the
                    // current file and try again later. This runs in node's output callbacks, and
                    // an exception there would end the wrapper.
                    retryRollAt = DateTime.UtcNow.AddMinutes(1);
                    Open();
                    writer.WriteLine("[wrapper] log rotation failed, retrying in a minute: " + e.Message);
                    return;
                }
                Open();
            }
        }

        private void Roll()
        {
            for (int i = keep - 1; i >= 1; i--)
            {
                string older = Rolled(i + 1), newer = Rolled(i);
                if (File.Exists(older)) File.Delete(older);
                if (File.Exists(newer)) File.Move(newer, older);
            }
            if (File.Exists(Rolled(1))) File.Delete(Rolled(1));
            File.Move(path, Rolled(1));
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

    public static class Program
    {
        public static int Main(string[] args)
        {
            // The game helpers need no settings: the agent runs them as the service account.
            if (GameProcess.IsHelperMode(args)) return GameProcess.Run(args);
            if (args.Length > 0 && args[0] == "--grant-service-logon") return AccountRights.Run(args);
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
                Console.WriteLine("host shutdown: " + (settings.StopGamesArguments.Count == 0 ? "no stop-games command" : WrapperSettings.JoinArguments(settings.StopGamesArguments)));
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
            if (!new ServiceHost(settings, exe).Run())
            {
                Console.Error.WriteLine("not started by the Service Control Manager; start it with: Start-Service " + settings.Id);
                return 2;
            }
            return 0;
        }
    }
}
