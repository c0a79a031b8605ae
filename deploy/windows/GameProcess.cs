// Game process helpers of the ReconSync service wrapper (Windows only; see ReconSyncService.cs).
//
// The agent (node) never starts a game itself on Windows: libuv puts every child it
// spawns into node's job object (KILL_ON_JOB_CLOSE), so the game would die with node.
// It runs `<wrapper exe> --launch ...` instead, which starts the game in a lifetime and
// console of its own and exits at once; the agent then watches the game by pid.
//
//   --launch --log <file> --cwd <dir> --cmdline <full command line>
//       starts the game, prints "<pid> <start time>" and exits 0 (2: usage, 1: failure).
//       The command line is used verbatim (the agent quoted it, cmd.exe /d /s /c for
//       .bat/.cmd). The game inherits this process's environment (the agent cleaned it).
//   --ctrl-c <pid>
//       sends Ctrl+C to the console of that game only, as a person pressing Ctrl+C in
//       its window would: attach to its console, raise CTRL_C_EVENT, detach. Exit 0 when sent.
//   --start-time <pid>
//       prints the process creation time (FILETIME ticks): pid files record it, so a pid
//       reused after a crash or a reboot is never taken for the game.
//   --usage <pid>
//       prints "<creation> <cpu> <working set bytes> <now>" (creation and now as FILETIME,
//       cpu = kernel + user time in 100 ns units) for the agent's CPU/memory figures: one
//       cheap call instead of a PowerShell/WMI query per sample (WMIC is gone from Windows 11 24H2).
//
// Keep it to C# 5 (see ReconSyncService.cs).

using System;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Microsoft.Win32.SafeHandles;

namespace ReconSync
{
    public static class GameProcess
    {
        private const uint CREATE_NEW_CONSOLE = 0x00000010;
        private const uint CREATE_UNICODE_ENVIRONMENT = 0x00000400;
        private const uint CREATE_BREAKAWAY_FROM_JOB = 0x01000000;
        private const int STARTF_USESHOWWINDOW = 0x00000001;
        private const int STARTF_USESTDHANDLES = 0x00000100;
        private const short SW_HIDE = 0;
        private const int ERROR_ACCESS_DENIED = 5;
        private const uint PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
        private const uint FILE_APPEND_DATA = 0x0004, FILE_READ_ATTRIBUTES = 0x0080, SYNCHRONIZE = 0x00100000;
        private const uint FILE_SHARE_ALL = 0x1 | 0x2 | 0x4;
        private const uint OPEN_ALWAYS = 4;
        private const uint CtrlCEvent = 0;
        private const uint HANDLE_FLAG_INHERIT = 1;
        private static readonly int[] StdHandles = { -10, -11, -12 };

        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        private struct STARTUPINFO
        {
            public int cb;
            public string lpReserved, lpDesktop, lpTitle;
            public int dwX, dwY, dwXSize, dwYSize, dwXCountChars, dwYCountChars, dwFillAttribute, dwFlags;
            public short wShowWindow, cbReserved2;
            public IntPtr lpReserved2, hStdInput, hStdOutput, hStdError;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct PROCESS_INFORMATION
        {
            public IntPtr hProcess, hThread;
            public int dwProcessId, dwThreadId;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct SECURITY_ATTRIBUTES
        {
            public int nLength;
            public IntPtr lpSecurityDescriptor;
            public bool bInheritHandle;
        }

        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern bool CreateProcessW(string app, StringBuilder cmdLine, IntPtr procAttrs, IntPtr threadAttrs, bool inheritHandles,
            uint flags, IntPtr env, string cwd, ref STARTUPINFO si, out PROCESS_INFORMATION pi);
        [DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern SafeFileHandle CreateFileW(string name, uint access, uint share, ref SECURITY_ATTRIBUTES sa, uint disposition, uint flags, IntPtr template);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern IntPtr OpenProcess(uint access, bool inherit, int pid);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool GetProcessTimes(IntPtr process, out long creation, out long exit, out long kernel, out long user);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool CloseHandle(IntPtr handle);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool K32GetProcessMemoryInfo(IntPtr process, out PROCESS_MEMORY_COUNTERS counters, int size);

        [StructLayout(LayoutKind.Sequential)]
        private struct PROCESS_MEMORY_COUNTERS
        {
            public int cb, PageFaultCount;
            public UIntPtr PeakWorkingSetSize, WorkingSetSize, QuotaPeakPagedPoolUsage, QuotaPagedPoolUsage,
                QuotaPeakNonPagedPoolUsage, QuotaNonPagedPoolUsage, PagefileUsage, PeakPagefileUsage;
        }
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern IntPtr GetStdHandle(int which);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool SetHandleInformation(IntPtr handle, uint mask, uint flags);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool AttachConsole(uint processId);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool FreeConsole();
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool SetConsoleCtrlHandler(IntPtr handler, bool add);
        [DllImport("kernel32.dll", SetLastError = true)]
        private static extern bool GenerateConsoleCtrlEvent(uint ctrlEvent, uint processGroupId);

        /// <summary>Runs one helper mode; returns the process exit code.</summary>
        public static int Run(string[] args)
        {
            try
            {
                if (args.Length == 2 && args[0] == "--ctrl-c") return CtrlC(ParsePid(args[1]));
                if (args.Length == 2 && args[0] == "--start-time")
                {
                    Console.WriteLine(StartTime(ParsePid(args[1])));
                    return 0;
                }
                if (args.Length == 2 && args[0] == "--usage")
                {
                    Console.WriteLine(Usage(ParsePid(args[1])));
                    return 0;
                }
                if (args.Length == 7 && args[0] == "--launch" && args[1] == "--log" && args[3] == "--cwd" && args[5] == "--cmdline")
                {
                    long start;
                    int pid = Launch(args[6], args[4], args[2], out start);
                    Console.WriteLine(pid + " " + start);
                    return 0;
                }
            }
            catch (Exception e)
            {
                Console.Error.WriteLine(args[0] + ": " + e.Message);
                return 1;
            }
            Console.Error.WriteLine("usage: --launch --log <file> --cwd <dir> --cmdline <command line> | --ctrl-c <pid> | --start-time <pid> | --usage <pid>");
            return 2;
        }

        public static bool IsHelperMode(string[] args)
        {
            return args.Length > 0 && (args[0] == "--launch" || args[0] == "--ctrl-c" || args[0] == "--start-time" || args[0] == "--usage");
        }

        private static int ParsePid(string text)
        {
            int pid;
            if (!int.TryParse(text, out pid) || pid <= 0) throw new ArgumentException("expected a process id, got '" + text + "'");
            return pid;
        }

        /// <summary>
        /// A console of its own (hidden: nobody looks at session 0), so Ctrl+C reaches this game
        /// alone. No CREATE_NEW_PROCESS_GROUP: that flag turns Ctrl+C off in the new process
        /// (CreateProcess docs), which would leave the game deaf to --ctrl-c; the own console
        /// already keeps it out of everyone else's console events. Out of any job: node's
        /// job (KILL_ON_JOB_CLOSE) must not take the game along when node ends.
        /// </summary>
        public static int Launch(string commandLine, string cwd, string logFile, out long startTime)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logFile)));
            var sa = new SECURITY_ATTRIBUTES();
            sa.nLength = Marshal.SizeOf(sa);
            sa.bInheritHandle = true;
            // Append-only and fully shared: the agent rotates the log (copy + truncate) while
            // the game writes, and someone may tail it.
            using (SafeFileHandle log = CreateFileW(logFile, FILE_APPEND_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE, FILE_SHARE_ALL, ref sa, OPEN_ALWAYS, 0, IntPtr.Zero))
            {
                if (log.IsInvalid) throw new Win32Exception(Marshal.GetLastWin32Error(), "cannot open " + logFile);
                var si = new STARTUPINFO();
                si.cb = Marshal.SizeOf(si);
                si.dwFlags = STARTF_USESHOWWINDOW | STARTF_USESTDHANDLES;
                si.wShowWindow = SW_HIDE;
                si.hStdInput = IntPtr.Zero;
                si.hStdOutput = log.DangerousGetHandle();
                si.hStdError = log.DangerousGetHandle();
                // Only the log is handed down: our own stdout is the agent's pipe, and a game holding
                // it would keep the agent waiting for an end of output that never comes.
                foreach (int std in StdHandles) SetHandleInformation(GetStdHandle(std), HANDLE_FLAG_INHERIT, 0);
                // Whatever this helper inherited (Ctrl+C ignored), the game gets Ctrl+C handling on.
                SetConsoleCtrlHandler(IntPtr.Zero, false);
                PROCESS_INFORMATION pi;
                uint flags = CREATE_NEW_CONSOLE | CREATE_UNICODE_ENVIRONMENT;
                bool ok = CreateProcessW(null, new StringBuilder(commandLine), IntPtr.Zero, IntPtr.Zero, true, flags | CREATE_BREAKAWAY_FROM_JOB, IntPtr.Zero, cwd, ref si, out pi);
                // A job that forbids breakaway (not node's: libuv allows it, nor the wrapper's) refuses the
                // flag. Then the game starts inside that job rather than not at all.
                if (!ok && Marshal.GetLastWin32Error() == ERROR_ACCESS_DENIED)
                    ok = CreateProcessW(null, new StringBuilder(commandLine), IntPtr.Zero, IntPtr.Zero, true, flags, IntPtr.Zero, cwd, ref si, out pi);
                // Not the command line: it may hold passwords, and this message reaches the agent's log.
                if (!ok) throw new Win32Exception(Marshal.GetLastWin32Error());
                try
                {
                    long exit, kernel, user;
                    if (!GetProcessTimes(pi.hProcess, out startTime, out exit, out kernel, out user)) startTime = 0;
                    return pi.dwProcessId;
                }
                finally
                {
                    CloseHandle(pi.hThread);
                    CloseHandle(pi.hProcess);
                }
            }
        }

        public static long StartTime(int pid)
        {
            IntPtr h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid);
            if (h == IntPtr.Zero) throw new Win32Exception(Marshal.GetLastWin32Error(), "cannot open process " + pid);
            try
            {
                long creation, exit, kernel, user;
                if (!GetProcessTimes(h, out creation, out exit, out kernel, out user)) throw new Win32Exception(Marshal.GetLastWin32Error(), "GetProcessTimes " + pid);
                return creation;
            }
            finally
            {
                CloseHandle(h);
            }
        }

        public static string Usage(int pid)
        {
            IntPtr h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid);
            if (h == IntPtr.Zero) throw new Win32Exception(Marshal.GetLastWin32Error(), "cannot open process " + pid);
            try
            {
                long creation, exit, kernel, user;
                if (!GetProcessTimes(h, out creation, out exit, out kernel, out user)) throw new Win32Exception(Marshal.GetLastWin32Error(), "GetProcessTimes " + pid);
                PROCESS_MEMORY_COUNTERS mem;
                if (!K32GetProcessMemoryInfo(h, out mem, Marshal.SizeOf(typeof(PROCESS_MEMORY_COUNTERS)))) throw new Win32Exception(Marshal.GetLastWin32Error(), "GetProcessMemoryInfo " + pid);
                return creation + " " + (kernel + user) + " " + mem.WorkingSetSize.ToUInt64() + " " + DateTime.UtcNow.ToFileTimeUtc();
            }
            finally
            {
                CloseHandle(h);
            }
        }

        /// <summary>
        /// Ctrl+C to the game's own console (every process on it: the game, and cmd.exe for a
        /// .bat start). This helper leaves its own console first (a process has at most one)
        /// and ignores the event itself.
        /// </summary>
        public static int CtrlC(int pid)
        {
            FreeConsole();
            if (!AttachConsole((uint)pid)) throw new Win32Exception(Marshal.GetLastWin32Error(), "cannot attach to the console of process " + pid);
            try
            {
                SetConsoleCtrlHandler(IntPtr.Zero, true);
                if (!GenerateConsoleCtrlEvent(CtrlCEvent, 0)) throw new Win32Exception(Marshal.GetLastWin32Error(), "GenerateConsoleCtrlEvent");
                // The event is delivered asynchronously; stay attached (and deaf to it) until it was.
                Thread.Sleep(500);
                return 0;
            }
            finally
            {
                FreeConsole();
            }
        }
    }
}
