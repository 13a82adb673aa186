// API errors: one class per condition, each carrying the HTTP status and Neutron's error type,
// with the seeds' messages (kamaki prints them as "(409) IP address '…' is already in use").
import { PlumbError } from '../util/errors.js';

export abstract class ApiError extends PlumbError {
  abstract readonly status: number;
  abstract readonly type: string;
  constructor(message: string, readonly detail = '') {
    super(message);
  }
}

/** 400: invalid input, naming the field and the reason. */
export class BadRequestError extends ApiError {
  readonly status = 400;
  readonly type = 'HTTPBadRequest';
  constructor(readonly field: string, readonly reason: string) {
    super(`Invalid input for ${field}. Reason: ${reason}.`);
  }
}

export class UnauthorizedError extends ApiError {
  readonly status = 401;
  readonly type = 'HTTPUnauthorized';
}

/** 403: forbidden for this user, or a network in use. */
export class ForbiddenError extends ApiError {
  readonly status = 403;
  readonly type = 'HTTPForbidden';
}

/** 403: an attribute the caller's roles may not read or write, as Neutron's policy words it. */
export class PolicyNotAuthorizedError extends ApiError {
  readonly status = 403;
  readonly type = 'PolicyNotAuthorized';
  constructor(
    readonly attribute: string,
    rule: string,
    who: string,
  ) {
    super(`${attribute} may be set only by ${who} (rule:${rule} is disallowed by policy)`);
  }
}

export class NetworkInUseError extends ApiError {
  readonly status = 403;
  readonly type = 'NetworkInUse';
  constructor(id: string, detail = '') {
    super(`Network with id ${id} is in use`, detail);
  }
}

export class NotFoundError extends ApiError {
  readonly status = 404;
  readonly type: string;
  constructor(kind: 'Network' | 'Subnet' | 'Port' | 'Floating IP' | 'Host' | 'Project' | 'Resource', id: string) {
    super(`${kind} ${id} could not be found`);
    this.type = `${kind.replace(/\s/g, '')}NotFound`;
  }
}

export class ConflictError extends ApiError {
  readonly status = 409;
  readonly type = 'Conflict';
}

export class IpAddressInUseError extends ApiError {
  readonly status = 409;
  readonly type = 'IpAddressInUse';
  constructor(ip: string) {
    super(`IP address '${ip}' is already in use`);
  }
}

export class MacAddressInUseError extends ApiError {
  readonly status = 409;
  readonly type = 'MacAddressInUse';
  constructor(mac: string) {
    super(`MAC address ${mac} is already in use`);
  }
}

/** 409: a pool (addresses, MACs, segments, CIDRs) is exhausted. */
export class PoolExhaustedError extends ApiError {
  readonly status = 409;
  readonly type = 'PoolExhausted';
}

/** 413: over quota or limit, in the seeds' words. */
export class OverQuotaError extends ApiError {
  readonly status = 413;
  readonly type = 'OverQuota';
  constructor(resource: string, available: number, requested = 1) {
    super(`Limit for resource '${resource}' exceeded for your account. Available: ${Math.max(0, available)}, Requested: ${requested}`);
  }
}

/** An answer that tells the client when to try again (the Retry-After header). */
export abstract class RetryLaterError extends ApiError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** 429: too many failed logins; Retry-After says when to come back. */
export class TooManyRequestsError extends RetryLaterError {
  readonly status = 429;
  readonly type = 'TooManyRequests';
}

/** The client went away before its request was read: nobody to answer, and not plumb's fault. */
export class ClientAbortedError extends PlumbError {
  constructor() {
    super('the client closed the connection before its request was read');
  }
}

/** 413: a request body over the configured limit, refused before it is read. */
export class BodyTooLargeError extends ApiError {
  readonly status = 413;
  readonly type = 'RequestEntityTooLarge';
  constructor(limit: number) {
    super(`Request body is larger than ${limit} bytes (maxBodyBytes in the controller configuration)`);
  }
}

/** 503: the store is away or too contended; nothing was applied, Retry-After says when to try again. */
export class ServiceUnavailableError extends RetryLaterError {
  readonly status = 503;
  readonly type = 'ServiceUnavailable';
}
