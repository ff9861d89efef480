/**
 * Notices the app states wherever a model or the app itself is described: the README, the
 * About box, every exported model card.
 */

/** What the software and its models are for, and what they are not. */
export const RESEARCH_USE_STATEMENT =
  'Research use only. FissionFusion Workstation is not a medical device: it and the models it makes are not for diagnosis, treatment or any other clinical decision.'
