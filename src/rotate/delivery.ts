/**
 * Who reads the old key, and does this run's hand-over reach them? (DESIGN.md §3 "Rotation", steps 6
 * and 7, v3.) The invariant is the user's program's: the place it reads its key from holds a
 * registered key at every instant. So the old key is retired only when the new key has reached every
 * place the old one is known to be read from:
 *
 *   the key in use came from…                         reached by
 *   a connection's private_key_file / _path           the connection update (default) or --in-place
 *   a path (--private-key, SNOWFLAKE_PRIVATE_KEY_FILE) --in-place
 *   the environment or stdin (a raw PEM)              --store-cmd
 *   another user's program (admin, fleet)             --store-cmd
 *
 * `--retire-now` (the user deployed it) and `--finish` (later) override. Otherwise the run stops after
 * verification, both keys registered: `awaiting-delivery`. Pure: the facts in, the decision out.
 */

/** Where the program that uses the old key reads it from, as far as sfauth can know. */
export type KeyHome =
  | { kind: 'connection'; name: string; file: string; path: string }
  | { kind: 'file'; path: string; origin: string }
  | { kind: 'environment'; origin: string }
  | { kind: 'other-user'; user: string };

/** What this run does with the new key after verifying it. */
export interface Deliveries {
  store: boolean;
  /** The connection whose key path is updated. */
  connection?: { name: string; file: string };
  /** The file the old key was read from is replaced by the new key. */
  inPlace?: string;
}

export interface DeliveryPlan {
  home: KeyHome;
  deliveries: Deliveries;
  /** The new key reaches every place the old one is read from. */
  covered: boolean;
  /** Where the new key goes, in words, for the plan and the history (empty: nowhere yet but its file). */
  targets: string[];
  /** When not covered: the place still reading the old key, in words. */
  uncovered: string | null;
}

export function homeWords(home: KeyHome, display: (p: string) => string = (p) => p): string {
  switch (home.kind) {
    case 'connection':
      return `connection '${home.name}' (${display(home.file)}), which names ${display(home.path)}`;
    case 'file':
      return `${display(home.path)} (${home.origin})`;
    case 'environment':
      return `${home.origin}`;
    case 'other-user':
      return `whatever runs as ${home.user}`;
  }
}

export function planDelivery(home: KeyHome, deliveries: Deliveries, display: (p: string) => string = (p) => p): DeliveryPlan {
  const targets = [
    ...(deliveries.inPlace ? [`${display(deliveries.inPlace)} (replaced in place)`] : []),
    ...(deliveries.connection ? [`connection '${deliveries.connection.name}' (${display(deliveries.connection.file)})`] : []),
    ...(deliveries.store ? ['--store-cmd'] : []),
  ];
  let covered: boolean;
  switch (home.kind) {
    case 'connection':
      covered = Boolean(deliveries.inPlace) || deliveries.connection?.name === home.name;
      break;
    case 'file':
      covered = Boolean(deliveries.inPlace);
      break;
    case 'environment':
    case 'other-user':
      covered = deliveries.store;
      break;
  }
  return { home, deliveries, covered, targets, uncovered: covered ? null : homeWords(home, display) };
}

/** How to deliver to a home this run does not reach, for the plan and the awaiting words. */
export function deliveryHint(home: KeyHome): string {
  switch (home.kind) {
    case 'connection':
      return 'leave out --no-update-connection, or add --in-place';
    case 'file':
      return '--in-place replaces that file with the new key';
    case 'environment':
      return '--store-cmd CMD puts the new key where the environment gets it';
    case 'other-user':
      return `--store-cmd CMD hands the new key to the store ${home.user}'s program reads`;
  }
}
