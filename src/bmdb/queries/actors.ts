// Who changed a machine's standing (quarantined or released it): the shepherd
// itself, or an operator by name. Kept out of the bound query modules, which
// hold functions only.

/** The `by` of what the shepherd does on its own. */
export const SHEPHERD_ACTOR = 'shepherd';
