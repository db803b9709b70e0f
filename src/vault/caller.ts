import type { Principal } from '../identity/access-token';
import type { AccessContext } from '../policy/audit-hook';

/** Who is asking and from where: the verified token and the request it came with. */
export interface Caller {
  principal: Principal;
  context: AccessContext;
}
