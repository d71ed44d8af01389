import CBedsideSystem
import Foundation

/// Keeps secrets out of core dumps and away from other processes of the same user.
public enum ProcessHardening {
    /// PR_SET_DUMPABLE = 0 (no core dumps, no ptrace attach by non-root, /proc/self/mem closed) and RLIMIT_CORE = 0.
    /// Call once, first thing in `main`.
    @discardableResult
    public static func apply() -> Bool {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        let coreOK = setrlimit(Int32(RLIMIT_CORE.rawValue), &limit) == 0
        let dumpOK = bedside_set_dumpable(0) == 0
        umask(0o077)
        return coreOK && dumpOK
    }

    /// Whether the process is marked non-dumpable (for tests and `bedside status`).
    public static var isDumpable: Bool { bedside_get_dumpable() != 0 }

    /// The soft core-file size limit.
    public static var coreLimit: UInt64 {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_CORE.rawValue), &limit)
        return UInt64(limit.rlim_cur)
    }
}
