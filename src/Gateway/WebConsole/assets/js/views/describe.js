// Words for an approval (ApprovalView), shared by the inbox and the detail view.

/** "write_file on fs, by ci-bot" */
export function describeCall(item) {
  return `${item.tool ?? 'a tool'} on ${item.upstream ?? 'an upstream'}, by ${item.agentId ?? 'an agent'}`;
}

/** "1 of 2 approvals" */
export function votesText(item) {
  const votes = Array.isArray(item.votes) ? item.votes.length : 0;
  return `${votes} of ${item.quorum ?? 1} approval${(item.quorum ?? 1) === 1 ? '' : 's'}`;
}

/**
 * Why this person cannot decide, in their words, or null when they can. The API's youMayDecide is the authority;
 * this only explains it.
 */
export function decisionBlocker(item, me) {
  if (item.youMayDecide) return null;
  const email = String(me?.email ?? '').toLowerCase();
  if (item.open === false) return `This approval is ${item.status}; it can no longer be decided.`;
  if (!(me?.roles ?? []).includes('approver')) return 'You cannot decide: your roles do not include approver.';
  if (item.agentOwner && item.agentOwner.toLowerCase() === email) {
    return 'You own the agent that made this call, so someone else must decide.';
  }
  if ((item.votes ?? []).some((vote) => String(vote.approver).toLowerCase() === email)) {
    return 'You have already approved; the other approvals needed must come from someone else.';
  }
  if (!(item.approvers ?? []).some((approver) => String(approver).toLowerCase() === email)) {
    return `You are not an approver of the current stage (${item.approverGroup ?? 'its group'}).`;
  }
  return 'You cannot decide this approval now.';
}
