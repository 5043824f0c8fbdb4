// Who made the machine, from the kernel's DMI export in /sys/class/dmi/id.
import type { SysfsScope } from './sysfs-reader.ts';

export interface DmiFacts {
  manufacturer: string;
  product: string;
  serialNumber: string;
}

/**
 * Reads sys_vendor, product_name and product_serial. The serial is readable
 * by root only, so an unprivileged run gets a warning and an empty serial.
 */
export async function readDmi(dmi: SysfsScope): Promise<DmiFacts> {
  const present = await dmi.exists('');
  if (present === false) {
    // Machines without SMBIOS (most VMs on ARM, some hypervisors) have no DMI at all: one warning, not three.
    dmi.warn('', 'not found');
  }
  if (present !== true) return { manufacturer: '', product: '', serialNumber: '' };
  const [manufacturer, product, serialNumber] = await Promise.all([
    dmi.text('sys_vendor'),
    dmi.text('product_name'),
    dmi.text('product_serial'),
  ]);
  return { manufacturer: manufacturer ?? '', product: product ?? '', serialNumber: serialNumber ?? '' };
}
