import BedsideCore
import Foundation

/// A message under the screen: a confirmation or an error, until the next key.
public struct StatusMessage: Sendable, Equatable {
    public var text: String
    public var isError: Bool
}

/// Random-looking ids made inside the pure reducer: the runtime seeds it once from the system's
/// generator (tests seed it with a constant), so ids stay unique without the reducer doing I/O.
public struct IDGenerator: Sendable, Equatable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    mutating func nextWord() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A draw in [0, 1), for the back-off's jitter.
    public mutating func unit() -> Double {
        Double(nextWord() >> 11) / Double(UInt64(1) << 53)
    }

    /// A version-4 UUID, lower case.
    public mutating func uuid() -> String {
        var bytes: [UInt8] = []
        for word in [nextWord(), nextWord()] { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) } }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
        return hex[0..<4].joined() + "-" + hex[4..<6].joined() + "-" + hex[6..<8].joined() + "-" + hex[8..<10].joined() + "-"
            + hex[10..<16].joined()
    }
}

/// Everything the screens show. Changed only by `reduce`.
public struct AppState: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var now: Int64
    /// The patient's time zone, for showing and entering local times: the offset of each instant is
    /// its own (daylight-saving time), never the one the app started with.
    public var zone: LocalZone
    /// The offset from UTC now.
    public var utcOffsetSeconds: Int { zone.offset(at: now) }
    public var language: Language
    public var stack: [Screen]
    public var session: SessionInfo?
    public var status = HomeStatus()
    public var message: StatusMessage?
    /// What the runtime is busy with, shown instead of key hints.
    public var busy: Phrase?
    public var showingHelp = false
    public var lastInputAt: Int64
    /// Milliseconds without input after which the vault locks (patients 15 min, kiosk 2 min).
    public var idleTimeout: Int64
    public var unlockFailures = 0
    public var unlockBlockedUntil: Int64 = 0
    /// Which glucose unit forms use.
    public var glucosePart: MeasurementPart = .glucoseMolar
    public var ids: IDGenerator
    public var quitting = false
    /// The sync worker's state and schedule.
    public var sync = SyncActivity()
    /// How often to sync while running, in milliseconds (config `sync-minutes`).
    public var syncInterval: Int64 = 5 * 60_000
    /// How long after an entry to sync, so entries made together travel together.
    public var syncDelayAfterEntry: Int64 = 2_000
    public var retryPolicy = RetryPolicy.standard
    /// The clinician kiosk (`bedside --kiosk`): the alert queue instead of the patient's screens.
    public var kiosk = false
    /// How often the kiosk asks for the queue (an unchanged one costs a 304).
    public var alertRefreshInterval: Int64 = 10_000
    /// The open alert's patient context (recent values, answers), once loaded.
    public var alertContext: AlertContext?
    /// The patient overview on screen, once loaded.
    public var patientOverview: PatientOverview?

    /// The first screen: unlock when this computer has an account, else log in.
    public init(
        width: Int, height: Int, now: Int64, zone: LocalZone, language: Language, hasAccount: Bool, server: String,
        idleTimeout: Int64 = 15 * 60_000, idSeed: UInt64
    ) {
        self.width = width
        self.height = height
        self.now = now
        self.zone = zone
        self.language = language
        self.stack = [hasAccount ? .unlock(TextField(masked: true, maxLength: 256)) : .login(LoginForm(server: server))]
        self.lastInputAt = now
        self.idleTimeout = idleTimeout
        self.ids = IDGenerator(seed: idSeed)
    }

    /// With one offset all year (tests, tools).
    public init(
        width: Int, height: Int, now: Int64, utcOffsetSeconds: Int, language: Language, hasAccount: Bool, server: String,
        idleTimeout: Int64 = 15 * 60_000, idSeed: UInt64
    ) {
        self.init(
            width: width, height: height, now: now, zone: .fixed(utcOffsetSeconds), language: language, hasAccount: hasAccount,
            server: server, idleTimeout: idleTimeout, idSeed: idSeed)
    }

    public var screen: Screen { stack.last ?? .home }

    var localizer: Localizer { Localizer(language) }

    mutating func replaceTop(_ screen: Screen) {
        if stack.isEmpty { stack = [screen] } else { stack[stack.count - 1] = screen }
    }

    mutating func push(_ screen: Screen) { stack.append(screen) }

    mutating func pop() {
        if stack.count > 1 { stack.removeLast() }
    }

    mutating func inform(_ phrase: Phrase, _ arguments: String...) {
        var text = localizer.text(phrase)
        for (index, argument) in arguments.enumerated() { text = text.replacingOccurrences(of: "{\(index)}", with: argument) }
        message = StatusMessage(text: text, isError: false)
    }

    mutating func warn(_ text: String) {
        message = StatusMessage(text: text, isError: true)
    }
}
