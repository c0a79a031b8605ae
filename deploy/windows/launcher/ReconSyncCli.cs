// reconsync.exe: the ReconSync CLI on Windows. The agent bundle ships it compiled
// (tools/bundle-windows.ts) next to reconsync.js; this file is its whole source.
//
// Why an exe and no reconsync.cmd: a batch file cannot hand its arguments on unchanged.
//   - cmd.exe expands %* into the batch line and then parses that line again, so &, |, <,
//     >, ^, %, ! and quotes inside an argument (a path such as C:\a&b^c\agent.yaml, a
//     password) were cut, changed or run as a command (`a&calc`).
//   - Every program that starts a .cmd (PowerShell, node, the Task Scheduler) runs
//     `cmd.exe /c <its command line>`, and cmd parses that line before the batch file runs
//     (the "BatBadBut" class, CVE-2024-24576). So no technique inside a batch file (the
//     REM + echo capture into a file included) can undo it: the damage is done before the
//     first line of the script, and it can run commands. A .ps1 has the same problem one
//     level up (Windows PowerShell drops or mangles quotes in native arguments).
// An exe is started by CreateProcess itself. This one takes its own command line as
// Windows gave it (Environment.CommandLine is GetCommandLineW on the .NET Framework),
// cuts off its own name the way the C runtime does, and appends the rest, unchanged, to
// node's command line after the script. Node splits that with the same MSVC runtime rules
// it would apply had the operator typed `node reconsync.js ...`, so process.argv holds
// exactly what the operator's shell passed: one parse (the shell's), none added here.
//
// Keep it to C# 5 and the System assembly (see ../ReconSyncService.cs): the bundle is
// built with mono's mcs, and anyone can rebuild it on Windows with the .NET Framework's
//   csc.exe /target:exe /out:reconsync.exe deploy\windows\launcher\ReconSyncCli.cs

using System;
using System.Diagnostics;
using System.IO;
using System.Reflection;

namespace ReconSync
{
    public static class CliLauncher
    {
        public const string NodeNotFound = "node.exe was not found on PATH: install Node.js 20 or newer, or set NODE=C:\\path\\to\\node.exe";

        public static int Main()
        {
            // node shares this console: Ctrl+C reaches it too and it stops itself (the agent
            // saves its outbox first). This process only waits for it and returns its exit code.
            Console.CancelKeyPress += delegate(object sender, ConsoleCancelEventArgs e) { e.Cancel = true; };
            string script = Path.Combine(Path.GetDirectoryName(Assembly.GetEntryAssembly().Location), "reconsync.js");
            string node;
            try
            {
                node = FindNode(Environment.GetEnvironmentVariable("NODE"), Environment.GetEnvironmentVariable("PATH"));
            }
            catch (FileNotFoundException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
            // UseShellExecute false: CreateProcess with this console and the standard handles
            // inherited (so `reconsync.exe ... > out.txt` works). The .NET Framework builds the
            // command line as "<node>" + " " + Arguments, Arguments taken verbatim.
            var start = new ProcessStartInfo(node, NodeArguments(script, Environment.CommandLine));
            start.UseShellExecute = false;
            using (Process child = Process.Start(start))
            {
                child.WaitForExit();
                return child.ExitCode;
            }
        }

        /// <summary>
        /// What follows the program name in a command line, byte for byte. The program name
        /// ends, as in the C runtime's parser, at the first space or tab outside double quotes
        /// (quotes toggle, no backslash escapes); the blanks after it are dropped.
        /// </summary>
        public static string ArgumentTail(string commandLine)
        {
            int i = 0;
            bool quoted = false;
            while (i < commandLine.Length)
            {
                char c = commandLine[i];
                if (c == '"') quoted = !quoted;
                else if (!quoted && (c == ' ' || c == '\t')) break;
                i++;
            }
            while (i < commandLine.Length && (commandLine[i] == ' ' || commandLine[i] == '\t')) i++;
            return commandLine.Substring(i);
        }

        /// <summary>
        /// node's arguments: the script, then this process's arguments unchanged. Plain quotes
        /// are enough for the script: a Windows file path holds no double quote and does not end
        /// in a backslash, the only two things that would need escaping. The quotes are balanced,
        /// so node starts the tail outside quotes, as the tail was in our own command line.
        /// </summary>
        public static string NodeArguments(string script, string ownCommandLine)
        {
            string tail = ArgumentTail(ownCommandLine);
            return "\"" + script + "\"" + (tail.Length == 0 ? "" : " " + tail);
        }

        /// <summary>
        /// node.exe: NODE when set (a path, or a name looked up on PATH), else node.exe on PATH.
        /// Only absolute PATH entries are searched, never the current folder, which cmd.exe and
        /// CreateProcess try first: a node.exe left in a game or download folder the operator
        /// happens to be in would otherwise run with the operator's (often admin) rights.
        /// </summary>
        public static string FindNode(string nodeVariable, string pathVariable)
        {
            string name = string.IsNullOrEmpty(nodeVariable) ? "node.exe" : nodeVariable.Trim().Trim('"');
            // A batch file (a version manager's node.cmd shim) would bring back cmd.exe's second parse.
            string ext = Path.GetExtension(name).ToLowerInvariant();
            if (ext == ".cmd" || ext == ".bat")
                throw new FileNotFoundException("NODE=" + nodeVariable + " is a batch file, which would parse the arguments a second time: set NODE to node.exe itself");
            if (name.IndexOf('\\') >= 0 || name.IndexOf('/') >= 0)
            {
                string full = Path.GetFullPath(name);
                if (File.Exists(full)) return full;
                throw new FileNotFoundException("NODE=" + nodeVariable + " does not exist: set NODE to node.exe's full path, or unset it to use node.exe on PATH");
            }
            if (!Path.HasExtension(name)) name += ".exe";
            foreach (string raw in (pathVariable ?? "").Split(';'))
            {
                string dir = raw.Trim().Trim('"');
                if (dir.Length == 0 || !Path.IsPathRooted(dir)) continue;
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
            throw new FileNotFoundException(string.IsNullOrEmpty(nodeVariable) ? NodeNotFound : "NODE=" + nodeVariable + " was not found on PATH: set NODE to node.exe's full path");
        }
    }
}
