#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Wall-clock time as milliseconds since the epoch, injected everywhere time matters
/// (token expiry, lockouts, idle locks, overdue alerts) so tests can move it.
public protocol WallClock: Sendable {
    func now() -> Int64
}

/// The machine's real-time clock.
public struct SystemClock: WallClock {
    public init() {}

    public func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// A clock that moves only when told to; for tests and headless scripts.
public final class ManualClock: WallClock {
    private let current: Mutex<Int64>

    public init(epochMilliseconds: Int64) {
        current = Mutex(epochMilliseconds)
    }

    public func now() -> Int64 { current.withLock { $0 } }

    public func advance(milliseconds: Int64) { current.withLock { $0 += milliseconds } }
    public func advance(seconds: Int64) { advance(milliseconds: seconds * 1000) }
    public func advance(minutes: Int64) { advance(milliseconds: minutes * 60_000) }
}
