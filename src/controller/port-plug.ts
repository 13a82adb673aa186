// How the agent plugs a port: a tap, or a veth whose peer goes into a namespace named by the
// binding profile or derived from the controller's portBinding.netnsTemplate. The template may
// hold {device_id} and {project}; without {project}, two projects' devices of one id would
// share a namespace, so the controller refuses the second (ports.ts, sharedNamespace).
import type { ControllerConfig } from './config.js';

export interface BindingProfileDoc {
  kind?: string;
  netns?: string;
  peer_name?: string;
  ifname?: string;
  adopt?: boolean;
  migrating_to?: string;
}

/** The profile without its live-migration marker: what the agents plug the port with. */
export function plugProfileJson(profileJson: string): string {
  const { migrating_to: _, ...rest } = JSON.parse(profileJson) as BindingProfileDoc;
  return JSON.stringify(rest);
}

export interface PortPlug {
  veth: boolean;
  netns: string | undefined;
  /** the namespace comes from the template and names the device without its project */
  sharedByDeviceId: boolean;
}

export function portPlug(cfg: ControllerConfig, project: string | null, deviceId: string, profile: BindingProfileDoc): PortPlug {
  const binding = cfg.portBinding;
  // an adopted device is the VM manager's tap, whatever the controller's default plug is
  const veth = profile.adopt !== true && (profile.kind === 'veth' || (profile.kind === undefined && binding.kind === 'veth'));
  if (profile.netns !== undefined || !veth || binding.kind !== 'veth') return { veth, netns: profile.netns, sharedByDeviceId: false };
  const template = binding.netnsTemplate;
  const netns = template.replace('{device_id}', deviceId).replace('{project}', project ?? '');
  return { veth, netns, sharedByDeviceId: veth && !template.includes('{project}') };
}
