// What the service does on each control from the Service Control Manager (see ReconSyncService.cs).
// Kept free of Win32 calls so its decisions can be checked off Windows (test/deploy/windows-service.test.ts).
//
//   STOP         "restart/stop the agent": the agent ends its own work (Ctrl+C) and exits;
//                games keep running and the next agent adopts them (README, "What stopping
//                the agent does to games").
//   PRESHUTDOWN  "the host goes down": the agent is stopped the same way, then
//                `reconsync agent stop-games` saves and stops every game, while the service
//                reports checkpoints so the SCM waits (up to the PreshutdownTimeout the
//                installer raised). Arrives before SHUTDOWN on every supported Windows.
//   SHUTDOWN     only acts when PRESHUTDOWN did not come: same as PRESHUTDOWN, in the few
//                seconds Windows grants.
//
// Keep it to C# 5.

using System;
using System.Threading;

namespace ReconSync
{
    public enum ServiceControl { Stop = 1, Shutdown = 5, Preshutdown = 15 }

    /// <summary>What the SCM is told. Each StopPending call is the next checkpoint.</summary>
    public interface IServiceStatus
    {
        void StopPending(int waitHintMs);
        void Stopped(int exitCode);
    }

    /// <summary>A child process the service controls: node with the agent, or stop-games.</summary>
    public interface IChild
    {
        /// <summary>Asks it to end its work and exit (Ctrl+C); false when that could not be sent.</summary>
        bool RequestStop();
        bool WaitForExit(int ms);
        /// <summary>This process alone: games are not its children, and node's own helpers (rclone, tar) die with its job.</summary>
        void Kill();
        int ExitCode { get; }
    }

    public sealed class AgentLifecycle
    {
        /// <summary>How often a checkpoint is reported while waiting; well inside WaitHintMs.</summary>
        public const int CheckpointMs = 2000;
        public const int WaitHintMs = 10000;

        private readonly IServiceStatus status;
        private readonly Action<string> log;
        private readonly int stopTimeoutMs;
        private readonly int stopGamesTimeoutMs;
        private readonly Func<IChild> startStopGames;
        private int acting;

        /// <summary>The running agent; set once it started.</summary>
        public IChild Agent;

        public AgentLifecycle(IServiceStatus status, Action<string> log, int stopTimeoutMs, int stopGamesTimeoutMs, Func<IChild> startStopGames)
        {
            this.status = status;
            this.log = log;
            this.stopTimeoutMs = stopTimeoutMs;
            this.stopGamesTimeoutMs = stopGamesTimeoutMs;
            this.startStopGames = startStopGames;
        }

        /// <summary>True once a stop began: the agent's exit is then expected, not a crash.</summary>
        public bool Stopping { get { return Volatile.Read(ref acting) == 1; } }

        /// <summary>Handles STOP, PRESHUTDOWN or SHUTDOWN; runs on a worker thread (the SCM's handler must return at once).</summary>
        public void OnControl(ServiceControl control)
        {
            if (Interlocked.Exchange(ref acting, 1) == 1)
            {
                log("[wrapper] " + control + ": already stopping");
                return;
            }
            bool hostDown = control != ServiceControl.Stop;
            status.StopPending(WaitHintMs);
            log("[wrapper] " + control + ": stopping the agent" + (hostDown ? ", then every game (host shutdown)" : "; games keep running"));
            StopAgent();
            int code = 0;
            if (hostDown) code = StopGames();
            log("[wrapper] stopped");
            status.Stopped(code);
        }

        private void StopAgent()
        {
            IChild agent = Agent;
            if (agent == null || agent.WaitForExit(0)) return;
            bool sent = agent.RequestStop();
            if (!sent) log("[wrapper] could not send Ctrl+C to the agent");
            if (sent && Wait(agent, stopTimeoutMs)) return;
            log("[wrapper] the agent did not stop within " + (stopTimeoutMs / 1000) + " s; ending node (games are not its children and keep running)");
            agent.Kill();
            Wait(agent, 10000);
        }

        private int StopGames()
        {
            IChild hook;
            try
            {
                hook = startStopGames();
            }
            catch (Exception e)
            {
                log("[wrapper] cannot run stop-games: " + e.Message);
                return 1;
            }
            if (Wait(hook, stopGamesTimeoutMs))
            {
                log("[wrapper] stop-games exited with " + hook.ExitCode);
                return hook.ExitCode == 0 ? 0 : 1;
            }
            log("[wrapper] stop-games still ran after " + (stopGamesTimeoutMs / 1000) + " s; giving up on it");
            hook.Kill();
            return 1;
        }

        /// <summary>Waits up to ms for the child, reporting a checkpoint every CheckpointMs.</summary>
        private bool Wait(IChild child, int ms)
        {
            int left = ms;
            while (left > 0)
            {
                int slice = Math.Min(CheckpointMs, left);
                if (child.WaitForExit(slice)) return true;
                left -= slice;
                status.StopPending(WaitHintMs);
            }
            return child.WaitForExit(0);
        }
    }
}
