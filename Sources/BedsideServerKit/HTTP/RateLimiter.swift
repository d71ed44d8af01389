import BedsideCore
import Synchronization

/// A request budget: at most `requests` in any `windowSeconds`-long stretch of time.
public struct RateLimit: Sendable, Equatable {
    public var requests: Int
    public var windowSeconds: Int

    public init(requests: Int, windowSeconds: Int = 60) {
        self.requests = requests
        self.windowSeconds = windowSeconds
    }

    /// A budget of nothing, or over no time, limits nothing: it is treated as off.
    public var isEnabled: Bool { requests > 0 && windowSeconds > 0 }

    /// (A window of more than a year is taken as a year.)
    var windowMilliseconds: Int64 { Int64(min(max(windowSeconds, 0), 366 * 86_400)) * 1000 }

    /// Seconds until the oldest use in the window leaves it: whole seconds, rounded up so the client never
    /// comes back a moment too early; never more than a window even if the wall clock stepped back.
    func retryAfterSeconds(oldestUse: Int64, now: Int64) -> Int {
        Self.retryAfterSeconds(oldestUse: oldestUse, now: now, window: windowMilliseconds)
    }

    static func retryAfterSeconds(oldestUse: Int64, now: Int64, window: Int64) -> Int {
        let wait = min(max(oldestUse &+ window &- now, 1), window)
        return Int((wait + 999) / 1000)
    }

    /// How long housekeeping keeps a budget use whose key was not seen again; a budget kept in the
    /// database counts over a window of at most this long.
    static let longestKeptUse: Int64 = 3_600_000

    /// The window of a budget kept in the database (`ServerStore.useBudget`), in milliseconds.
    var storedWindowMilliseconds: Int64 { min(windowMilliseconds, Self.longestKeptUse) }
}

/// Counts requests per key (a session, or an address before login) in a sliding window.
///
/// Each key keeps the times of its accepted requests within the last window, so the answer is exact:
/// a request is refused while `requests` others fall inside the window, and `Retry-After` is the time
/// until the oldest of them leaves it. Refused requests are not counted, or a client that keeps asking
/// would never get through. Time comes from the server's WallClock, so tests can move it.
/// Called from every request's task at once; the state sits behind a Mutex (no suspension inside).
public final class RateLimiter: Sendable {
    public enum Decision: Sendable, Equatable {
        case allowed
        /// `firstRefusal`: the first refusal since this key was last allowed, so a flood is recorded once.
        case throttled(retryAfterSeconds: Int, firstRefusal: Bool)
    }

    /// The accepted request times of one key, oldest first; `head` skips those that left the window.
    private struct Log {
        var times: [Int64] = []
        var head = 0
        var refusing = false

        var live: Int { times.count - head }
        var newest: Int64? { times.last }

        mutating func forget(upTo cutoff: Int64) {
            while head < times.count, times[head] <= cutoff { head += 1 }
            // Compact now and then instead of shifting the array on every request.
            if head > 32, head * 2 > times.count {
                times.removeFirst(head)
                head = 0
            }
        }
    }

    private struct State {
        var logs: [String: Log] = [:]
        var lastSweep: Int64 = 0
    }

    public let limit: RateLimit
    private let clock: any WallClock
    private let state = Mutex(State())

    public init(limit: RateLimit, clock: any WallClock) {
        self.limit = limit
        self.clock = clock
    }

    /// Counts a request for `key` if the budget allows it.
    public func check(_ key: String) -> Decision {
        guard limit.isEnabled else { return .allowed }
        let now = clock.now()
        let window = limit.windowMilliseconds
        let limit = self.limit
        let budget = limit.requests
        return state.withLock { state in
            Self.sweep(&state, now: now, window: window)
            var log = state.logs[key] ?? Log()
            log.forget(upTo: now - window)
            let decision: Decision
            if log.live < budget {
                log.times.append(now)
                log.refusing = false
                decision = .allowed
            } else {
                let wait = limit.retryAfterSeconds(oldestUse: log.times[log.head], now: now)
                decision = .throttled(retryAfterSeconds: wait, firstRefusal: !log.refusing)
                log.refusing = true
            }
            state.logs[key] = log
            return decision
        }
    }

    /// Once a window, drops keys with nothing left in it, so ended sessions and passing addresses
    /// do not pile up.
    private static func sweep(_ state: inout State, now: Int64, window: Int64) {
        guard now - state.lastSweep >= window || now < state.lastSweep else { return }
        state.lastSweep = now
        state.logs = state.logs.filter { _, log in (log.newest ?? .min) > now - window }
    }

    /// How many keys are tracked (tests check that idle ones are dropped).
    var trackedKeys: Int { state.withLock { $0.logs.count } }
}
