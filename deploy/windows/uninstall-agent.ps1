<#
.SYNOPSIS
  Stops and removes the ReconSync agent service (run as Administrator).

.DESCRIPTION
  Stops the service (the wrapper sends the agent Ctrl+C and waits for it to exit;
  game servers keep running, see README "What stopping the agent does to games":
  stop them with /server stop first if they should not), deletes the registration
  and the compiled wrapper. agent.yaml, agent.env, the data folder and the logs are
  kept unless -Purge is given.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File .\deploy\windows\uninstall-agent.ps1
#>
[CmdletBinding()]
param(
  [string]$ServiceName = 'ReconSyncAgent',
  [string]$BundleDir = (Split-Path -Parent (Split-Path -Parent $PSScriptRoot)),
  # Default: the installed wrapper's stop timeout (its XML) plus the time to kill node.
  [int]$StopTimeoutSeconds = 0,
  # Also delete %ProgramData%\ReconSync (config, secrets, agent data, logs).
  [switch]$Purge
)

Set-StrictMode -Version 3
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
  Write-Error 'uninstall-agent: run this from an elevated PowerShell (Run as Administrator)' -ErrorAction Continue
  exit 1
}

$serviceDir = Join-Path ($ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($BundleDir)) 'service'
if ($StopTimeoutSeconds -le 0) {
  $StopTimeoutSeconds = 150
  $xmlPath = Join-Path $serviceDir "$ServiceName.xml"
  if (Test-Path -LiteralPath $xmlPath) {
    $node = ([xml](Get-Content -LiteralPath $xmlPath -Raw)).SelectSingleNode('/service/stoptimeoutseconds')
    if ($node) { $StopTimeoutSeconds = [int]$node.InnerText + 30 }
  }
}

$service = Get-Service -Name $ServiceName -ErrorAction SilentlyContinue
if ($service) {
  if ($service.Status -ne 'Stopped') {
    Stop-Service -Name $ServiceName -Force
    $service.WaitForStatus('Stopped', [TimeSpan]::FromSeconds($StopTimeoutSeconds))
  }
  & sc.exe delete $ServiceName | Out-Null
  # 1072 = already marked for deletion (a console such as services.msc still holds it open).
  if ($LASTEXITCODE -ne 0 -and $LASTEXITCODE -ne 1072) {
    Write-Error "uninstall-agent: sc.exe delete failed ($LASTEXITCODE)" -ErrorAction Continue
    exit 1
  }
  Write-Host "Removed the $ServiceName service."
} else {
  Write-Host "No $ServiceName service is registered."
}

foreach ($f in @("$ServiceName.exe", "$ServiceName.xml")) {
  $p = Join-Path $serviceDir $f
  if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Force }
}
if ((Test-Path -LiteralPath $serviceDir) -and -not (Get-ChildItem -LiteralPath $serviceDir)) { Remove-Item -LiteralPath $serviceDir }

$dataRoot = Join-Path $env:ProgramData 'ReconSync'
if ($Purge) {
  if (Test-Path -LiteralPath $dataRoot) { Remove-Item -LiteralPath $dataRoot -Recurse -Force }
  Write-Host "Deleted $dataRoot."
} else {
  Write-Host "Kept $dataRoot (config, secrets, data, logs); add -Purge to delete it."
}
exit 0
