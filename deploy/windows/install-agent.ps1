<#
.SYNOPSIS
  Registers the ReconSync agent as a Windows service (run as Administrator).

.DESCRIPTION
  Why a compiled wrapper: node.exe does not speak the Service Control Manager
  protocol, so `sc.exe create` pointing at node fails after 30 s (error 1053).
  The alternatives were rejected for robustness:
    - WinSW (what node-windows uses) and NSSM are third-party binaries that must be
      downloaded at install time: a network and supply-chain dependency, and NSSM
      is unmaintained.
    - A PowerShell-hosted service still needs a real service exe to host it.
  Instead this script compiles the *.cs files next to it (read them) with csc.exe
  from the .NET Framework 4.x that every supported Windows ships with. The wrapper
  runs node with the agent, forwards stop as Ctrl+C (the agent ends its own work and
  exits), keeps rolling logs, and fails on an unexpected exit so the recovery actions
  set below restart it. Its settings live in an XML file beside it.

  Game servers (README, "What stopping the agent does to games"): stopping or
  restarting the service leaves games running (the next agent adopts them); a host
  shutdown or reboot stops every game gracefully first. For that the service accepts
  PRESHUTDOWN and this script raises its PreshutdownTimeout to -ShutdownTimeoutSeconds.

  Layout (defaults):
    program   <BundleDir> (the unpacked bundle), wrapper in <BundleDir>\service\
    config    %ProgramData%\ReconSync\agent.yaml and agent.env (secrets, KEY=value)
    data      dataDir in agent.yaml, e.g. %ProgramData%\ReconSync\agent-data
    logs      %ProgramData%\ReconSync\logs\<ServiceName>.log (rolled at 10 MiB, 5 kept)
    account   NT SERVICE\<ServiceName>, the service's own virtual account (no password)

  Account: the service, and so every game it starts, runs as NT SERVICE\<ServiceName>,
  not LocalSystem: a game server exposed to the internet must not run as SYSTEM. The
  account gets read access to the program, the config folder and the secrets file, and modify
  access to the log folder, the starter dataDir and every folder in -WritablePaths
  (`reconsync agent service install` passes dataDir, game install, save and backup
  folders from agent.yaml). Give -Credential for a named account instead, or
  -Account LocalSystem to keep the old behaviour (not recommended).

  Running it again updates the registration and restarts the service.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File .\deploy\windows\install-agent.ps1 -ConfigPath C:\ProgramData\ReconSync\agent.yaml
#>
[CmdletBinding()]
param(
  [string]$BundleDir = (Split-Path -Parent (Split-Path -Parent $PSScriptRoot)),
  [string]$ConfigPath = (Join-Path $env:ProgramData 'ReconSync\agent.yaml'),
  [string]$ServiceName = 'ReconSyncAgent',
  [string]$Entry = '',
  [string]$NodePath = '',
  [string]$LogDir = (Join-Path $env:ProgramData 'ReconSync\logs'),
  [string]$EnvFile = '',
  [int]$StopTimeoutSeconds = 120,
  # How long a host shutdown may wait for every game to save and stop (PRESHUTDOWN).
  [int]$ShutdownTimeoutSeconds = 600,
  # The account the service and its games run as; default NT SERVICE\<ServiceName> (see Account above).
  [string]$Account = '',
  # Folders the agent writes, separated by ';' (dataDir, game install and save folders, path destinations).
  [string]$WritablePaths = '',
  # A named account with a password instead of the virtual account.
  [pscredential]$Credential = $null,
  [switch]$NoStart
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'
$MinNodeMajor = 20

function Fail([string]$message) {
  Write-Error "install-agent: $message" -ErrorAction Continue
  exit 1
}

# Relative to PowerShell's current folder ([IO.Path]::GetFullPath would use the process's).
function Resolve-Full([string]$path) {
  $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($path)
}

# Runs a native program and returns its output as text. Windows PowerShell turns stderr
# lines into terminating errors under ErrorActionPreference=Stop when 2>&1 is used.
function Invoke-Native([scriptblock]$block) {
  $saved = $ErrorActionPreference
  $ErrorActionPreference = 'Continue'
  try { & $block 2>&1 | ForEach-Object { "$_" } } finally { $ErrorActionPreference = $saved }
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  Fail 'run this from an elevated PowerShell (Run as Administrator)'
}
if ($ServiceName -notmatch '^[A-Za-z0-9_.-]+$') { Fail "service name '$ServiceName' may only use letters, digits, '_', '.' and '-'" }
if ($Credential) { $Account = $Credential.UserName }
elseif (-not $Account) { $Account = "NT SERVICE\$ServiceName" }
$grantPaths = @($WritablePaths.Split(';') | Where-Object { $_ } | ForEach-Object { Resolve-Full $_ })

$BundleDir = Resolve-Full $BundleDir
if (-not $Entry) { $Entry = Join-Path $BundleDir 'reconsync.js' }
$Entry = Resolve-Full $Entry
$ConfigPath = Resolve-Full $ConfigPath
$LogDir = Resolve-Full $LogDir
$ConfigDir = Split-Path -Parent $ConfigPath
if (-not $EnvFile) { $EnvFile = Join-Path $ConfigDir 'agent.env' }
if (-not (Test-Path -LiteralPath $Entry -PathType Leaf)) { Fail "no agent program at $Entry (pass -BundleDir or -Entry)" }

# node.exe: the one given, else the one on PATH. The service runs it by absolute path.
if (-not $NodePath) {
  $cmd = Get-Command node.exe -ErrorAction SilentlyContinue
  if (-not $cmd) { Fail "node.exe is not on PATH; install Node.js $MinNodeMajor+ or pass -NodePath" }
  $NodePath = $cmd.Path
}
$NodePath = Resolve-Full $NodePath
$nodeVersion = (Invoke-Native { & $NodePath -p 'process.versions.node' }) -join ''
if ($LASTEXITCODE -ne 0 -or $nodeVersion -notmatch '^\d+\.') { Fail "cannot run $NodePath ($nodeVersion)" }
if ([int]($nodeVersion.Split('.')[0]) -lt $MinNodeMajor) { Fail "Node.js $MinNodeMajor+ is required, $NodePath is $nodeVersion" }

# The config folder holds secrets. Ours (the default) is made readable by SYSTEM and
# Administrators only (plus the service account); a folder the operator chose keeps its ACL.
New-Item -ItemType Directory -Force -Path $ConfigDir, $LogDir | Out-Null
function Protect-Path([string]$path, [string]$inherit) {
  $out = Invoke-Native { & icacls.exe $path /inheritance:r /grant:r "*S-1-5-18:$($inherit)F" "*S-1-5-32-544:$($inherit)F" }
  if ($LASTEXITCODE -ne 0) { Fail "restricting $path to SYSTEM and Administrators failed: $($out -join ' ')" }
}
# The service account's own rights, granted once the service (and so its virtual account) exists.
function Grant-Account([string]$path, [string]$rights) {
  $out = Invoke-Native { & icacls.exe $path /grant:r "$($Account):$rights" }
  if ($LASTEXITCODE -ne 0) { Fail "granting $Account $rights on $path failed: $($out -join ' ')" }
}
# What the service runs must not be changeable by ordinary users: whoever can write node.exe,
# the wrapper or agent.yaml (start.command) runs code as the service account. A folder such
# as C:\ReconSync inherits "Authenticated Users: Modify" from C:\ and fails here.
$untrustedSids = @('S-1-1-0', 'S-1-5-11', 'S-1-5-32-545', 'S-1-5-4')  # Everyone, Authenticated Users, Users, INTERACTIVE
# WriteData, AppendData, WriteExtendedAttributes, DeleteSubdirectoriesAndFiles, WriteAttributes, Delete, ChangePermissions, TakeOwnership
$writeBits = 2 -bor 4 -bor 16 -bor 64 -bor 256 -bor 65536 -bor 262144 -bor 524288
function Assert-NotUserWritable([string]$path, [string]$what) {
  foreach ($rule in (Get-Acl -LiteralPath $path).Access) {
    if ($rule.AccessControlType -ne 'Allow') { continue }
    if ($rule.PropagationFlags -band [Security.AccessControl.PropagationFlags]::InheritOnly) { continue }
    $sid = try { $rule.IdentityReference.Translate([Security.Principal.SecurityIdentifier]).Value } catch { '' }
    if (($untrustedSids -contains $sid) -and ([int]$rule.FileSystemRights -band $writeBits)) {
      Fail "$what $path can be changed by $($rule.IdentityReference) ($($rule.FileSystemRights)), and whoever changes it runs code as the service. Put it under $env:ProgramFiles or $env:ProgramData, or take that right away: icacls `"$path`" /inheritance:d /remove:g `"$($rule.IdentityReference)`""
    }
  }
}
Assert-NotUserWritable $NodePath 'node.exe'
Assert-NotUserWritable (Split-Path -Parent $NodePath) 'the node.exe folder'
Assert-NotUserWritable $BundleDir 'the program folder'
$defaultConfigDir = Join-Path $env:ProgramData 'ReconSync'
if ($ConfigDir -eq $defaultConfigDir) { Protect-Path $ConfigDir '(OI)(CI)' }
Assert-NotUserWritable $ConfigDir 'the config folder'
# Without a BOM: Windows PowerShell's -Encoding UTF8 would add one.
$utf8 = New-Object Text.UTF8Encoding($false)
if (-not (Test-Path -LiteralPath $ConfigPath)) {
  $agentId = ($env:COMPUTERNAME -replace '[^A-Za-z0-9._-]', '-').ToLowerInvariant()
  $dataDir = Join-Path $ConfigDir 'agent-data'
  $starter = @"
# ReconSync agent. Check it with: reconsync config check "$ConfigPath"
# Secrets come from $EnvFile (`${VAR} is replaced from the environment).
id: $agentId
hub:
  url: `${RECONSYNC_HUB_URL}
  token: `${RECONSYNC_AGENT_TOKEN}
dataDir: '$dataDir'
servers: []
"@
  [IO.File]::WriteAllText($ConfigPath, $starter, $utf8)
  $grantPaths += $dataDir
  Write-Host "Wrote a starter $ConfigPath"
}
if (-not (Test-Path -LiteralPath $EnvFile)) {
  $envText = @"
# KEY=value lines passed to the agent by the service wrapper.
RECONSYNC_HUB_URL=ws://127.0.0.1:7780/agent
RECONSYNC_AGENT_TOKEN=
"@
  [IO.File]::WriteAllText($EnvFile, $envText, $utf8)
  Protect-Path $EnvFile ''
  Write-Host "Wrote ${EnvFile}: put the agent token there"
}

# Stop an existing registration first: the wrapper exe is about to be replaced.
$existing = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($existing -and $existing.Status -ne 'Stopped') {
  Stop-Service -Name $ServiceName -Force
  $existing.WaitForStatus('Stopped', [TimeSpan]::FromSeconds($StopTimeoutSeconds + 30))
}

# Compile the wrapper.
$serviceDir = Join-Path $BundleDir 'service'
New-Item -ItemType Directory -Force -Path $serviceDir | Out-Null
$exe = Join-Path $serviceDir "$ServiceName.exe"
$xml = Join-Path $serviceDir "$ServiceName.xml"
# This folder only, not launcher\: reconsync.exe is a program of its own (its own Main), shipped built.
$sources = @(Get-ChildItem -LiteralPath $PSScriptRoot -Filter '*.cs' | Sort-Object Name | ForEach-Object { $_.FullName })
$csc = Join-Path $env:WINDIR 'Microsoft.NET\Framework64\v4.0.30319\csc.exe'
if (-not (Test-Path -LiteralPath $csc)) { $csc = Join-Path $env:WINDIR 'Microsoft.NET\Framework\v4.0.30319\csc.exe' }
if (-not (Test-Path -LiteralPath $csc)) { Fail ".NET Framework 4.x C# compiler not found at $csc (enable the .NET Framework 4.8 feature)" }
$cscOut = Invoke-Native { & $csc /nologo /target:exe /optimize+ "/out:$exe" /reference:System.Xml.dll $sources }
if ($LASTEXITCODE -ne 0) { Fail "compiling the service wrapper failed:`n$($cscOut -join "`n")" }

# The wrapper's settings.
$settings = New-Object Xml.XmlDocument
$root = $settings.AppendChild($settings.CreateElement('service'))
function Add-Setting([string]$name, [string]$value) {
  $el = $settings.CreateElement($name)
  $el.InnerText = $value
  $root.AppendChild($el) | Out-Null
}
Add-Setting 'id' $ServiceName
Add-Setting 'executable' $NodePath
foreach ($a in @($Entry, 'agent', '--config', $ConfigPath)) { Add-Setting 'argument' $a }
Add-Setting 'workingdirectory' $ConfigDir
Add-Setting 'logpath' $LogDir
Add-Setting 'logmaxbytes' '10485760'
Add-Setting 'logkeep' '5'
Add-Setting 'stoptimeoutseconds' ([string]$StopTimeoutSeconds)
foreach ($a in @($Entry, 'agent', 'stop-games', '--config', $ConfigPath)) { Add-Setting 'stopgamesargument' $a }
# The agent's own stop comes first within the same budget.
Add-Setting 'stopgamestimeoutseconds' ([string]([Math]::Max(30, $ShutdownTimeoutSeconds - $StopTimeoutSeconds)))
Add-Setting 'envfile' $EnvFile
$envEl = $settings.CreateElement('env')
$envEl.SetAttribute('name', 'NODE_ENV')
$envEl.SetAttribute('value', 'production')
$root.AppendChild($envEl) | Out-Null
$settings.Save($xml)

$check = Invoke-Native { & $exe --check }
if ($LASTEXITCODE -ne 0) { Fail "the wrapper cannot read its settings: $check" }

# Register or update. The image path is quoted (a path with spaces unquoted is the classic
# "unquoted service path" hole); it goes through APIs, never through sc.exe's command line,
# where Windows PowerShell mangles embedded quotes.
$binPath = "`"$exe`""
if ($existing) {
  $change = @{ PathName = $binPath }
  if ($Credential) {
    $change.StartName = $Credential.UserName
    $change.StartPassword = $Credential.GetNetworkCredential().Password
  }
  $result = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'" | Invoke-CimMethod -MethodName Change -Arguments $change
  if ($result.ReturnValue -ne 0) { Fail "updating the service failed (Win32_Service.Change returned $($result.ReturnValue))" }
} else {
  $params = @{
    Name = $ServiceName
    BinaryPathName = $binPath
    DisplayName = 'ReconSync agent'
    Description = 'Supervises game servers and backs up their worlds; reports to the ReconSync hub.'
    StartupType = 'Automatic'
  }
  if ($Credential) { $params.Credential = $Credential }
  New-Service @params | Out-Null
}
# A named account needs "Log on as a service", which neither New-Service nor Win32_Service.Change grants.
if ($Credential) {
  $rightOut = Invoke-Native { & $exe --grant-service-logon $Credential.UserName }
  if ($LASTEXITCODE -ne 0) { Fail "granting $($Credential.UserName) 'Log on as a service' failed: $($rightOut -join ' ')" }
}
# The account (a virtual account needs no password; sc.exe sets it on new and existing services alike).
if (-not $Credential) {
  $objOut = Invoke-Native { & sc.exe config $ServiceName obj= $Account }
  if ($LASTEXITCODE -ne 0) { Fail "setting the service account to $Account failed: $($objOut -join ' ')" }
}
if ($Account -ne 'LocalSystem') {
  # The program may sit anywhere (e.g. unpacked under an administrator's profile): let the account run it.
  Grant-Account $BundleDir '(OI)(CI)RX'
  Grant-Account $ConfigDir '(OI)(CI)RX'
  Grant-Account $EnvFile 'R'
  Grant-Account $LogDir '(OI)(CI)M'
  foreach ($p in $grantPaths) {
    New-Item -ItemType Directory -Force -Path $p | Out-Null
    Grant-Account $p '(OI)(CI)M'
  }
}
# PRESHUTDOWN's budget (default 10 s on current Windows): the wrapper reports checkpoints while
# the games save, but Windows stops waiting once this timeout has passed.
$serviceKey = "HKLM:\SYSTEM\CurrentControlSet\Services\$ServiceName"
try { Set-ItemProperty -LiteralPath $serviceKey -Name PreshutdownTimeout -Type DWord -Value ($ShutdownTimeoutSeconds * 1000) }
catch { Fail "setting PreshutdownTimeout on $serviceKey failed: $($_.Exception.Message)" }
# Start after the network and the other automatic services are up.
& sc.exe config $ServiceName start= delayed-auto | Out-Null
if ($LASTEXITCODE -ne 0) { Fail "sc.exe config failed ($LASTEXITCODE)" }
# Recovery: restart after 10 s, 30 s, then every 60 s; the failure count resets after a day.
& sc.exe failure $ServiceName reset= 86400 actions= restart/10000/restart/30000/restart/60000 | Out-Null
if ($LASTEXITCODE -ne 0) { Fail "sc.exe failure failed ($LASTEXITCODE)" }

if ($NoStart) {
  Write-Host "Registered $ServiceName (not started: -NoStart)."
  exit 0
}
Start-Service -Name $ServiceName
Write-Host "Started $ServiceName as $Account. Logs: $(Join-Path $LogDir "$ServiceName.log")"
Write-Host "If it stops at once, run: `"$NodePath`" `"$Entry`" config check `"$ConfigPath`""
exit 0
