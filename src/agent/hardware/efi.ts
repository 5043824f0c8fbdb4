// Whether the machine can boot, and did boot, via UEFI.
import { EfiSupport } from './node-report.ts';
import type { SmbiosFacts } from './smbios.ts';
import type { SysfsScope } from './sysfs-reader.ts';

/**
 * Maps what the kernel and firmware say onto EFISupport:
 * - `/sys/firmware/efi` exists: the kernel was started by UEFI firmware, so
 *   UEFI is in use: EFI_ENABLED.
 * - it is absent (legacy/BIOS boot): the SMBIOS BIOS characteristics decide
 *   between EFI_SUPPORTED (firmware could boot via UEFI) and EFI_UNSUPPORTED;
 *   without SMBIOS, EFI_UNSUPPORTED, as nothing indicates UEFI.
 * - `/sys/firmware` itself is absent or unreadable (no sysfs): EFI_UNKNOWN.
 */
export async function readEfiSupport(firmware: SysfsScope, smbios: SmbiosFacts): Promise<EfiSupport> {
  const efi = await firmware.exists('efi');
  if (efi === true) return EfiSupport.EFI_ENABLED;
  if (efi === undefined) return EfiSupport.EFI_UNKNOWN;
  const sysfs = await firmware.exists('');
  if (sysfs !== true) {
    if (sysfs === false) firmware.warn('', 'not found');
    return EfiSupport.EFI_UNKNOWN;
  }
  if (smbios.uefiSupported === true) return EfiSupport.EFI_SUPPORTED;
  return EfiSupport.EFI_UNSUPPORTED;
}
