// The Service Control Manager side of the ReconSync service wrapper (see ReconSyncService.cs).
//
// Why not System.ServiceProcess.ServiceBase: .NET Framework's ServiceBase cannot accept
// PRESHUTDOWN, and its RequestAdditionalTime throws while the service is still RUNNING
// (it only works once the SCM set STOP_PENDING), so a shutdown got no time at all. Here
// the wrapper registers its own control handler and reports STOP_PENDING with
// checkpoints itself.
//
// Keep it to C# 5.

using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

namespace ReconSync
{
    public sealed class ServiceHost : IServiceStatus
    {
        private const int SERVICE_WIN32_OWN_PROCESS = 0x10;
        private const int SERVICE_STOPPED = 1, SERVICE_START_PENDING = 2, SERVICE_STOP_PENDING = 3, SERVICE_RUNNING = 4;
        private const int SERVICE_ACCEPT_STOP = 0x1, SERVICE_ACCEPT_SHUTDOWN = 0x4, SERVICE_ACCEPT_PRESHUTDOWN = 0x100;
        private const int SERVICE_CONTROL_INTERROGATE = 4;
        private const int NO_ERROR = 0, ERROR_CALL_NOT_IMPLEMENTED = 120, ERROR_SERVICE_SPECIFIC_ERROR = 1066;

        [StructLayout(LayoutKind.Sequential)]
        private struct SERVICE_STATUS
        {
            public int dwServiceType, dwCurrentState, dwControlsAccepted, dwWin32ExitCode, dwServiceSpecificExitCode, dwCheckPoint, dwWaitHint;
        }

        [UnmanagedFunctionPointer(CallingConvention.StdCall)]
        private delegate void ServiceMainFn(int argc, IntPtr argv);
        [UnmanagedFunctionPointer(CallingConvention.StdCall)]
        private delegate int HandlerExFn(int control, int eventType, IntPtr eventData, IntPtr context);

        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        private struct SERVICE_TABLE_ENTRY
        {
            public string lpServiceName;
            public ServiceMainFn lpServiceProc;
        }

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern bool StartServiceCtrlDispatcherW(SERVICE_TABLE_ENTRY[] table);
        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr RegisterServiceCtrlHandlerExW(string name, HandlerExFn handler, IntPtr context);
        [DllImport("advapi32.dll", SetLastError = true)]
        private static extern bool SetServiceStatus(IntPtr handle, ref SERVICE_STATUS status);

        // Exit codes of `reconsync` that restarting cannot fix (usage error, invalid config).
        private static readonly int[] PermanentExitCodes = { 2, 3 };

        private readonly WrapperSettings settings;
        private readonly string helperExe;
        private readonly object gate = new object();
        private readonly ManualResetEvent stopped = new ManualResetEvent(false);
        // Kept in fields: the SCM calls them through native pointers, the GC must not collect them.
        private readonly ServiceMainFn mainFn;
        private readonly HandlerExFn handlerFn;
        private IntPtr handle;
        private SERVICE_STATUS status;
        private RollingLog log;
        private AgentLifecycle lifecycle;

        public ServiceHost(WrapperSettings settings, string helperExe)
        {
            this.settings = settings;
            this.helperExe = helperExe;
            mainFn = ServiceMain;
            handlerFn = Handler;
        }

        /// <summary>Blocks until the service stopped; false when not started by the SCM.</summary>
        public bool Run()
        {
            var table = new SERVICE_TABLE_ENTRY[2];
            table[0].lpServiceName = settings.Id;
            table[0].lpServiceProc = mainFn;
            return StartServiceCtrlDispatcherW(table);
        }

        private void ServiceMain(int argc, IntPtr argv)
        {
            handle = RegisterServiceCtrlHandlerExW(settings.Id, handlerFn, IntPtr.Zero);
            if (handle == IntPtr.Zero) return;
            status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
            Set(SERVICE_START_PENDING, 0, 0, 10000);
            try
            {
                log = new RollingLog(settings.LogPath, settings.Id, settings.LogMaxBytes, settings.LogKeep);
                lifecycle = new AgentLifecycle(this, Line, Math.Max(1, settings.StopTimeoutSeconds) * 1000,
                    Math.Max(1, settings.StopGamesTimeoutSeconds) * 1000, StartStopGames);
                var agent = NodeChild.Start(settings, settings.Arguments, helperExe, log);
                agent.Exited += OnAgentExited;
                lifecycle.Agent = agent;
            }
            catch (Exception e)
            {
                if (log != null) Line("[wrapper] cannot start the agent: " + e.Message);
                Set(SERVICE_STOPPED, 0, 1, 0);
                return;
            }
            Set(SERVICE_RUNNING, SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_SHUTDOWN, 0, 0);
            stopped.WaitOne();
        }

        private IChild StartStopGames()
        {
            if (settings.StopGamesArguments.Count == 0) throw new InvalidOperationException("no <stopgamesargument> in the wrapper's settings (re-run install-agent.ps1)");
            return NodeChild.Start(settings, settings.StopGamesArguments, helperExe, log);
        }

        private int Handler(int control, int eventType, IntPtr eventData, IntPtr context)
        {
            if (control == SERVICE_CONTROL_INTERROGATE) return NO_ERROR;
            if (control != (int)ServiceControl.Stop && control != (int)ServiceControl.Preshutdown && control != (int)ServiceControl.Shutdown) return ERROR_CALL_NOT_IMPLEMENTED;
            var which = (ServiceControl)control;
            ThreadPool.QueueUserWorkItem(delegate { lifecycle.OnControl(which); });
            return NO_ERROR;
        }

        private void OnAgentExited(int code)
        {
            if (lifecycle.Stopping) return;
            Line("[wrapper] the agent exited on its own with code " + code);
            if (Array.IndexOf(PermanentExitCodes, code) >= 0)
            {
                // A reported stop with a service-specific code: the SCM runs no recovery, so an
                // invalid agent.yaml does not restart forever. Fix it, then start the service.
                Line("[wrapper] not restarting: fix the configuration, then start the service again");
                Stopped(code);
                return;
            }
            // Ending without SERVICE_STOPPED is a failure to the SCM, which then applies the
            // recovery actions (restart with delay) the installer set.
            log.Dispose();
            Environment.Exit(code == 0 ? 1 : code);
        }

        public void StopPending(int waitHintMs)
        {
            lock (gate) Set(SERVICE_STOP_PENDING, 0, 0, waitHintMs, status.dwCurrentState == SERVICE_STOP_PENDING ? status.dwCheckPoint + 1 : 1);
        }

        public void Stopped(int exitCode)
        {
            lock (gate)
            {
                if (status.dwCurrentState == SERVICE_STOPPED) return;
                Set(SERVICE_STOPPED, 0, exitCode, 0);
            }
            if (log != null) log.Dispose();
            stopped.Set();
        }

        private void Set(int state, int accepted, int exitCode, int waitHintMs, int checkpoint = 0)
        {
            status.dwCurrentState = state;
            status.dwControlsAccepted = accepted;
            status.dwWin32ExitCode = exitCode == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
            status.dwServiceSpecificExitCode = exitCode;
            status.dwCheckPoint = checkpoint;
            status.dwWaitHint = waitHintMs;
            SetServiceStatus(handle, ref status);
        }

        private void Line(string text)
        {
            if (log != null) log.Line(Stamp() + " " + text);
        }

        public static string Stamp()
        {
            return DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
        }
    }

    /// <summary>node running the agent (or stop-games), its output in the wrapper's log, inside a job that ends it if the wrapper dies.</summary>
    public sealed class NodeChild : IChild
    {
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool AttachConsole(uint processId);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool FreeConsole();
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool SetConsoleCtrlHandler(IntPtr handler, bool add);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool GenerateConsoleCtrlEvent(uint ctrlEvent, uint processGroupId);

        private readonly Process process;
        public event Action<int> Exited;

        private NodeChild(Process process)
        {
            this.process = process;
        }

        public static NodeChild Start(WrapperSettings settings, List<string> arguments, string helperExe, RollingLog log)
        {
            var psi = new ProcessStartInfo(settings.Executable);
            psi.Arguments = WrapperSettings.JoinArguments(arguments);
            psi.WorkingDirectory = settings.WorkingDirectory;
            psi.UseShellExecute = false;
            // A console of its own (invisible in session 0) is what lets RequestStop deliver Ctrl+C.
            psi.CreateNoWindow = false;
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            psi.RedirectStandardInput = true;
            psi.StandardOutputEncoding = Encoding.UTF8;
            psi.StandardErrorEncoding = Encoding.UTF8;
            if (!string.IsNullOrEmpty(settings.EnvFile) && File.Exists(settings.EnvFile))
                foreach (var kv in WrapperSettings.ReadEnvFile(settings.EnvFile)) psi.EnvironmentVariables[kv.Key] = kv.Value;
            foreach (var kv in settings.Env) psi.EnvironmentVariables[kv.Key] = kv.Value;
            // The agent launches games and sends them Ctrl+C through this exe (GameProcess.cs).
            psi.EnvironmentVariables["RECONSYNC_WINDOWS_HELPER"] = helperExe;

            log.Line(ServiceHost.Stamp() + " [wrapper] starting " + settings.Executable + " " + psi.Arguments);
            var p = new Process();
            p.StartInfo = psi;
            p.EnableRaisingEvents = true;
            var child = new NodeChild(p);
            p.OutputDataReceived += delegate(object s, DataReceivedEventArgs e) { log.Line(e.Data); };
            p.ErrorDataReceived += delegate(object s, DataReceivedEventArgs e) { log.Line(e.Data); };
            p.Exited += delegate
            {
                Action<int> handler = child.Exited;
                if (handler != null) handler(p.ExitCode);
            };
            p.Start();
            string jobError = WrapperJob.TryAssign(p);
            if (jobError != null) log.Line(ServiceHost.Stamp() + " [wrapper] node runs outside the wrapper's job (" + jobError + "): if the wrapper dies, end node.exe by hand before starting the service");
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return child;
        }

        public int ExitCode { get { return process.ExitCode; } }

        public bool WaitForExit(int ms)
        {
            return process.WaitForExit(ms);
        }

        public void Kill()
        {
            try { process.Kill(); } catch (InvalidOperationException) { /* already gone */ } catch (Win32Exception) { /* exiting */ }
        }

        public bool RequestStop()
        {
            // We have no console (services don't); borrow node's, send Ctrl+C to it while
            // ignoring it ourselves, then let go of it. Games have consoles of their own.
            FreeConsole();
            if (!AttachConsole((uint)process.Id)) return false;
            try
            {
                SetConsoleCtrlHandler(IntPtr.Zero, true);
                return GenerateConsoleCtrlEvent(0, 0);
            }
            finally
            {
                FreeConsole();
                // Restored only after the event had time to be delivered.
                Thread.Sleep(500);
                SetConsoleCtrlHandler(IntPtr.Zero, false);
            }
        }
    }

    /// <summary>
    /// One job for node: if the wrapper dies, Windows ends node with it (KILL_ON_JOB_CLOSE), so the
    /// SCM's restart never finds a second agent running. Breakaway is allowed: the game launcher
    /// (GameProcess.cs) starts games outside every job.
    /// </summary>
    public static class WrapperJob
    {
        private const int JobObjectExtendedLimitInformation = 9;
        private const uint JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000, JOB_OBJECT_LIMIT_BREAKAWAY_OK = 0x800;

        [StructLayout(LayoutKind.Sequential)]
        private struct BASIC_LIMIT
        {
            public long PerProcessUserTimeLimit, PerJobUserTimeLimit;
            public uint LimitFlags;
            public UIntPtr MinimumWorkingSetSize, MaximumWorkingSetSize;
            public uint ActiveProcessLimit;
            public UIntPtr Affinity;
            public uint PriorityClass, SchedulingClass;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct IO_COUNTERS
        {
            public ulong ReadOperationCount, WriteOperationCount, OtherOperationCount, ReadTransferCount, WriteTransferCount, OtherTransferCount;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct EXTENDED_LIMIT
        {
            public BASIC_LIMIT BasicLimitInformation;
            public IO_COUNTERS IoInfo;
            public UIntPtr ProcessMemoryLimit, JobMemoryLimit, PeakProcessMemoryUsed, PeakJobMemoryUsed;
        }

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr CreateJobObjectW(IntPtr attrs, string name);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool SetInformationJobObject(IntPtr job, int infoClass, ref EXTENDED_LIMIT info, int size);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool AssignProcessToJobObject(IntPtr job, IntPtr process);

        private static IntPtr job = IntPtr.Zero;

        /// <summary>Null when node is in the job; else why not (the agent still runs, only this guard is missing).</summary>
        public static string TryAssign(Process p)
        {
            if (job == IntPtr.Zero)
            {
                IntPtr j = CreateJobObjectW(IntPtr.Zero, null);
                if (j == IntPtr.Zero) return new Win32Exception(Marshal.GetLastWin32Error()).Message;
                var info = new EXTENDED_LIMIT();
                info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
                if (!SetInformationJobObject(j, JobObjectExtendedLimitInformation, ref info, Marshal.SizeOf(info)))
                    return new Win32Exception(Marshal.GetLastWin32Error()).Message;
                // Never closed: the handle closes when the wrapper process ends, and that is the point.
                job = j;
            }
            return AssignProcessToJobObject(job, p.Handle) ? null : new Win32Exception(Marshal.GetLastWin32Error()).Message;
        }
    }
}
