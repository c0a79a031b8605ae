import { execFile } from 'node:child_process';
import path from 'node:path';

/**
 * reconsync.exe, the bundle's Windows launcher, compiled from
 * deploy/windows/launcher/ReconSyncCli.cs (why an exe and not a .cmd: that file's header).
 * mono's mcs at C# 5 builds an assembly the .NET Framework 4.x of every supported Windows
 * runs; the source ships in the bundle beside it, so it can be read and rebuilt with csc.exe.
 */
export const windowsLauncherSource = ['deploy', 'windows', 'launcher', 'ReconSyncCli.cs'] as const;

export async function compileWindowsLauncher(rootDir: string, outFile: string, compiler: string): Promise<void> {
  const source = path.join(rootDir, ...windowsLauncherSource);
  const args = ['-langversion:5', '-target:exe', '-optimize+', `-out:${outFile}`, source];
  await new Promise<void>((resolve, reject) => {
    execFile(compiler, args, { timeout: 120_000 }, (err, stdout, stderr) => {
      if (!err) return resolve();
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new Error(missing
        ? `building reconsync.exe (the Windows launcher) needs mono's C# compiler, ${compiler}, which is not installed: apt-get install mono-mcs`
        : `compiling ${source} with ${compiler} failed:\n${`${stdout}${stderr}`.trim() || err.message}`));
    });
  });
}
