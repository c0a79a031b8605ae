// `<wrapper> --grant-service-logon <account>`: gives a named account the "Log on as a service"
// right (SeServiceLogonRight). install-agent.ps1 runs it for -Credential: neither New-Service
// nor Win32_Service.Change grants it (only services.msc does), and without it the service
// fails to start with error 1069. Virtual accounts (NT SERVICE\...) need nothing.
//
// Keep it to C# 5 (see ReconSyncService.cs).

using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Principal;

namespace ReconSync
{
    public static class AccountRights
    {
        [StructLayout(LayoutKind.Sequential)]
        private struct LSA_UNICODE_STRING
        {
            public ushort Length, MaximumLength;
            public IntPtr Buffer;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct LSA_OBJECT_ATTRIBUTES
        {
            public int Length;
            public IntPtr RootDirectory, ObjectName;
            public uint Attributes;
            public IntPtr SecurityDescriptor, SecurityQualityOfService;
        }

        private const uint POLICY_CREATE_ACCOUNT = 0x10, POLICY_LOOKUP_NAMES = 0x800;

        [DllImport("advapi32.dll")]
        private static extern uint LsaOpenPolicy(IntPtr systemName, ref LSA_OBJECT_ATTRIBUTES attributes, uint access, out IntPtr policy);
        [DllImport("advapi32.dll")]
        private static extern uint LsaAddAccountRights(IntPtr policy, byte[] sid, LSA_UNICODE_STRING[] rights, uint count);
        [DllImport("advapi32.dll")]
        private static extern uint LsaClose(IntPtr policy);
        [DllImport("advapi32.dll")]
        private static extern int LsaNtStatusToWinError(uint status);

        public static int Run(string[] args)
        {
            if (args.Length != 2)
            {
                Console.Error.WriteLine("usage: --grant-service-logon <account>");
                return 2;
            }
            try
            {
                GrantServiceLogon(args[1]);
                Console.WriteLine(args[1] + ": may log on as a service");
                return 0;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("--grant-service-logon " + args[1] + ": " + e.Message);
                return 1;
            }
        }

        public static void GrantServiceLogon(string account)
        {
            var sid = (SecurityIdentifier)new NTAccount(account).Translate(typeof(SecurityIdentifier));
            var binary = new byte[sid.BinaryLength];
            sid.GetBinaryForm(binary, 0);
            var attributes = new LSA_OBJECT_ATTRIBUTES();
            IntPtr policy;
            uint status = LsaOpenPolicy(IntPtr.Zero, ref attributes, POLICY_CREATE_ACCOUNT | POLICY_LOOKUP_NAMES, out policy);
            if (status != 0) throw new Win32Exception(LsaNtStatusToWinError(status), "LsaOpenPolicy");
            const string right = "SeServiceLogonRight";
            IntPtr buffer = Marshal.StringToHGlobalUni(right);
            try
            {
                var rights = new LSA_UNICODE_STRING[1];
                rights[0].Buffer = buffer;
                rights[0].Length = (ushort)(right.Length * 2);
                rights[0].MaximumLength = (ushort)(right.Length * 2 + 2);
                status = LsaAddAccountRights(policy, binary, rights, 1);
                if (status != 0) throw new Win32Exception(LsaNtStatusToWinError(status), "LsaAddAccountRights");
            }
            finally
            {
                Marshal.FreeHGlobal(buffer);
                LsaClose(policy);
            }
        }
    }
}
