/// How the server delivers Subscription notifications (`ServerConfiguration.subscriptions`).
public struct SubscriptionSettings: Sendable {
    /// How often the housekeeping loop looks for changes to notify; nil: never (tests call
    /// `SubscriptionDispatcher.run()` themselves). Cheap when nothing changed: one small read.
    public var interval: Duration? = .seconds(1)
    /// The wait after the first failure, doubled after each further one up to `maximumRetryDelay` (ms).
    public var retryDelay: Int64 = 5_000
    public var maximumRetryDelay: Int64 = 600_000
    /// Failures in a row after which the Subscription's status becomes `error`.
    public var maximumFailures = 10
    /// A CA bundle (PEM) trusted for endpoints, besides the system's (`serve --outbound-ca-file`).
    public var outboundCAFile: String?
    /// Changes read per look, per Subscription.
    public var batchSize = 100
    /// Subscriptions notified at once (each POST blocks a thread of its own for up to 15 s).
    public var concurrentDeliveries = 4

    public init() {}

    /// The wait before the next attempt after `failures` failures in a row.
    func delay(afterFailures failures: Int) -> Int64 {
        let doublings = min(max(failures - 1, 0), 30)
        return min(retryDelay << Int64(doublings), maximumRetryDelay)
    }
}
