import BedsideCore

/// Everything that can happen to the UI: input, time, and the results of effects.
public enum Action: Sendable {
    case key(Key)
    /// The clock moved (the runtime sends this about once a second, and scripts with `tick`).
    case tick(now: Int64)
    case resize(width: Int, height: Int)

    case codeRequested
    case loginFailed(String)
    case loggedIn(SessionInfo)
    case unlocked(SessionInfo)
    case unlockFailed(String)
    case statusLoaded(HomeStatus)
    case saved(MeasurementRecord, edited: Bool)
    case saveFailed(String)
    /// `total` is nil when unchanged (later pages).
    case historyLoaded(kind: MeasurementKind, page: [MeasurementRecord], total: Int?, appended: Bool)
    case deleted(id: String, removed: Bool)
    case syncStarted
    case syncFinished(error: String?)
    case loggedOut
    case logoutFailed(String)
    /// An effect failed in a way the current screen should show.
    case failed(String)
}

/// Who is logged in, as the screens show it (never the token or the password).
public struct SessionInfo: Sendable, Equatable {
    public var displayName: String
    public var email: String
    public var server: String

    public init(displayName: String, email: String, server: String) {
        self.displayName = displayName
        self.email = email
        self.server = server
    }
}

/// What the home screen and the header show.
public struct HomeStatus: Sendable, Equatable {
    public var latest: [MeasurementKind: MeasurementRecord]
    public var unsent: Int
    public var rejected: Int
    public var lastSync: Int64?
    public var offline: Bool

    public init(
        latest: [MeasurementKind: MeasurementRecord] = [:], unsent: Int = 0, rejected: Int = 0, lastSync: Int64? = nil,
        offline: Bool = false
    ) {
        self.latest = latest
        self.unsent = unsent
        self.rejected = rejected
        self.lastSync = lastSync
        self.offline = offline
    }
}
