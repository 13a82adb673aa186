// /v2.0/floatingips: allocate (optionally attached), attach/detach by port, plumb's attach by device.
import { z } from 'zod';
import { deviceId, hostId, object, ref } from './fields.js';

export const createFloatingIpFields = object({
  floating_network_id: ref.optional(),
  port_id: ref.nullable().optional(),
});
export const createFloatingIpRequest = createFloatingIpFields.transform((b) => ({ networkId: b.floating_network_id, portId: b.port_id ?? undefined }));
export type CreateFloatingIpRequest = z.output<typeof createFloatingIpRequest>;

/** port_id: a port of the device to attach to, or null to detach; required. */
export const updateFloatingIpFields = object({ port_id: ref.nullable() });
export const updateFloatingIpRequest = updateFloatingIpFields.transform((b) => ({ portId: b.port_id }));
export type UpdateFloatingIpRequest = z.output<typeof updateFloatingIpRequest>;

export const attachFloatingIpRequest = object({
  device_id: deviceId.refine((d) => d !== '', 'the floating IP needs a device to attach to'),
  host: hostId.optional(),
});
export type AttachFloatingIpRequest = z.output<typeof attachFloatingIpRequest>;
