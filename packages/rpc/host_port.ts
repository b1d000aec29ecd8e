/** Network addresses as gRPC and HTTP want them written. */

/** "host:port", with an IPv6 host in brackets ("[::1]:50051"). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
