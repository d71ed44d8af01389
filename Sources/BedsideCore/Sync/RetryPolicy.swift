/// When to try the server again after a failure: exponential back-off with full jitter, capped,
/// and never sooner than the server asked for with `Retry-After`.
///
/// Full jitter (a uniformly random wait between zero and the exponential bound) spreads many clients
/// that lost the network together, so they do not come back as one wave.
public struct RetryPolicy: Sendable, Equatable {
    /// The bound after the first failure, in milliseconds.
    public var baseMilliseconds: Int64
    /// The bound never grows past this (DESIGN: 5 minutes).
    public var capMilliseconds: Int64
    /// The shortest wait, so a zero draw never turns into a tight loop.
    public var floorMilliseconds: Int64

    public static let standard = RetryPolicy(baseMilliseconds: 2_000, capMilliseconds: 300_000, floorMilliseconds: 1_000)

    public init(baseMilliseconds: Int64, capMilliseconds: Int64, floorMilliseconds: Int64) {
        self.baseMilliseconds = baseMilliseconds
        self.capMilliseconds = capMilliseconds
        self.floorMilliseconds = floorMilliseconds
    }

    /// The upper bound of the wait after `failures` failures in a row (1 = the first).
    public func bound(afterFailures failures: Int) -> Int64 {
        // (failures - 1 would overflow for Int.min; the count is the caller's, but arithmetic never traps here.)
        let exponent = failures <= 1 ? 0 : min(failures - 1, 30)
        let grown = baseMilliseconds.multipliedReportingOverflow(by: Int64(1) << Int64(exponent))
        return grown.overflow ? capMilliseconds : min(capMilliseconds, grown.partialValue)
    }

    /// The wait before the next attempt. `randomUnit` is a draw in [0, 1) (the caller owns the randomness,
    /// so the reducer stays pure and tests are repeatable); `retryAfterSeconds` is the server's own request.
    public func delay(afterFailures failures: Int, retryAfterSeconds: Int?, randomUnit: Double) -> Int64 {
        // A NaN draw would make Int64(...) trap; it counts as zero.
        let unit = randomUnit.isNaN ? 0 : min(max(randomUnit, 0), 1)
        let jittered = max(floorMilliseconds, Int64(Double(bound(afterFailures: failures)) * unit))
        guard let retryAfterSeconds, retryAfterSeconds > 0 else { return jittered }
        // The server's number is outside input: clamped before it is multiplied, so it cannot overflow.
        return max(jittered, Int64(min(retryAfterSeconds, RetryAfter.maximumSeconds)) * 1000)
    }
}
