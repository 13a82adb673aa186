// Who may read and write what, as Neutron's default policy has it (docs/api.md, "Roles"). The
// binding attributes decide which host a port lands on and what the agent does there (a veth
// into a namespace): only the operator (admin) and the VM manager (service) may set or see them.
// A project member gets 403 naming the attribute when it sends one, and never sees them.
import type { Principal } from './auth.js';
import { ForbiddenError, PolicyNotAuthorizedError } from './errors.js';

/** Every attribute that binds a port to a host; any added later belongs here too. */
export const BINDING_ATTRIBUTES = ['binding:host_id', 'binding:profile', 'binding:migration'] as const;
export type BindingAttribute = (typeof BINDING_ATTRIBUTES)[number];

const BINDERS = 'the admin or service role';

/** The operator or the VM manager: they bind ports to hosts, for any project. */
export function mayBind(p: Principal): boolean {
  return p.admin || p.service;
}

/** Refuses an attribute only binders may write; `rule` is Neutron's policy name (create_port, update_port). */
export function requireBinder(p: Principal, attribute: string, rule: string): void {
  if (!mayBind(p)) throw new PolicyNotAuthorizedError(attribute, `${rule}:${attribute}`, BINDERS);
}

/** Refuses a port for another project unless the caller is a binder (Neutron: admin-only tenant_id). */
export function requireOwnerChoice(p: Principal, project: string): void {
  if (project !== p.project && !mayBind(p)) throw new PolicyNotAuthorizedError('project_id', 'create_port:project_id', BINDERS);
}

/** Objects of every project: the admin's view, and the service's for ports (it binds them). */
export function seesAllPorts(p: Principal): boolean {
  return p.admin || p.service;
}

export function requireAdmin(p: Principal, what: string): void {
  if (!p.admin) throw new ForbiddenError(`${what} is for administrators only (admin role required)`);
}

/** The API view of a port without the attributes the caller may not read. */
export function withoutBinding<T extends Record<string, unknown>>(p: Principal, view: T): T {
  if (mayBind(p)) return view;
  const out = { ...view };
  for (const a of BINDING_ATTRIBUTES) delete out[a];
  return out;
}
