/// One stored resource version, in the order the store took them: the change feed Subscriptions read.
/// `put` writes one in the same transaction as the version itself, so a committed change is never missed.
public struct ResourceChange: Sendable, Equatable {
    /// Increasing, never reused (SQLite AUTOINCREMENT): a subscription's cursor is one of these.
    public var sequence: Int64
    public var type: String
    public var id: String
    public var version: Int
    public var at: Int64

    public init(sequence: Int64, type: String, id: String, version: Int, at: Int64) {
        self.sequence = sequence
        self.type = type
        self.id = id
        self.version = version
        self.at = at
    }
}

/// Where a Subscription's deliveries stand: how far along the change feed it has been notified (only
/// ever moved after the endpoint answered 2xx, so deliveries are at-least-once), and its run of failures.
public struct SubscriptionState: Sendable, Equatable {
    public var subscriptionID: String
    /// The backend client that created it: notifications hold only what this client may read.
    public var clientID: String
    /// The last change sequence number notified (or looked at and found not to match).
    public var cursor: Int64
    /// Failed attempts in a row; a success resets it.
    public var failures: Int
    /// No attempt before this instant (epoch ms): the back-off after a failure.
    public var nextAttemptAt: Int64
    /// Why the last attempt failed, in words (never a header value).
    public var lastError: String?
    /// Notifications delivered so far (the event number of the next one is this plus one).
    public var events: Int64

    public init(
        subscriptionID: String, clientID: String, cursor: Int64, failures: Int = 0, nextAttemptAt: Int64 = 0, lastError: String? = nil,
        events: Int64 = 0
    ) {
        self.subscriptionID = subscriptionID
        self.clientID = clientID
        self.cursor = cursor
        self.failures = failures
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.events = events
    }
}
