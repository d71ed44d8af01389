/// One measurement a patient recorded, as the client keeps it.
public struct MeasurementRecord: Sendable, Equatable, Identifiable {
    public enum SyncState: Int, Sendable, Codable {
        /// Entered here, not yet accepted by the server: may still be edited or deleted outright.
        case pending = 0
        /// The server holds it (see `serverID`).
        case synced = 1
        /// The server refused it; the reason is kept for the patient to fix or discard.
        case rejected = 2
        /// Sent, then withdrawn: it will be marked entered-in-error on the server.
        case withdrawn = 3
    }

    /// A random UUID, made here; also the `urn:uuid` identifier that makes uploads idempotent.
    public let id: String
    public var kind: MeasurementKind
    public var values: [ObservationBuilder.Value]
    /// Milliseconds since the epoch.
    public var effectiveAt: Int64
    /// The patient's UTC offset when it was taken, so it is shown and sent in their local time.
    public var utcOffsetSeconds: Int
    public var note: String?
    public var syncState: SyncState
    public var serverID: String?
    public var serverVersion: Int?
    /// How exactly the time is known: `.time` for every reading made in Bedside; another system may
    /// give only the day, month or year (FHIR allows it), and the screens then show only that.
    public var timePrecision: FHIRDateTime.Precision

    public init(
        id: String, kind: MeasurementKind, values: [ObservationBuilder.Value], effectiveAt: Int64, utcOffsetSeconds: Int,
        note: String? = nil, syncState: SyncState = .pending, serverID: String? = nil, serverVersion: Int? = nil,
        timePrecision: FHIRDateTime.Precision = .time
    ) {
        self.timePrecision = timePrecision
        self.id = id
        self.kind = kind
        self.values = values
        self.effectiveAt = effectiveAt
        self.utcOffsetSeconds = utcOffsetSeconds
        self.note = note
        self.syncState = syncState
        self.serverID = serverID
        self.serverVersion = serverVersion
    }

    /// The value of one part, as written.
    public func literal(_ part: MeasurementPart) -> String? {
        values.first { $0.part == part }?.literal
    }

    /// `effectiveDateTime` in the patient's offset.
    public var effectiveText: String {
        FHIRDateTime.format(epochMilliseconds: effectiveAt, utcOffsetSeconds: utcOffsetSeconds)
    }

    /// The time as precise as it is known: a reading from another system known only by its day (or
    /// month, or year) keeps that precision (`2026-11-20`), the rest are `effectiveText`.
    public var effectiveAsKnown: String {
        switch timePrecision {
        case .time: effectiveText
        case .day: String(effectiveText.prefix(10))
        case .month: String(effectiveText.prefix(7))
        case .year: String(effectiveText.prefix(4))
        }
    }
}
