/// The work a server does by itself, on a schedule, rather than for a request. However many instances
/// share one database, exactly one runs each of these at a time (`ServerStore.leads`); the others ask
/// again at their next turn, so one takes over when the instance that ran it is gone.
public enum ScheduledJob: Int32, CaseIterable, Sendable {
    /// Expired sessions and codes removed, overdue measurements and questionnaires alerted, the change
    /// feed pruned.
    case housekeeping = 1
    /// Bulk Data exports run and their expired files removed.
    case exports = 2
    /// Subscription notifications sent.
    case subscriptions = 3
    /// The retention schedule's hand-overs and erasures.
    case retention = 4
    /// The unusual-activity rules run over the audit trail and their alerts mailed.
    case unusualActivity = 5
}
