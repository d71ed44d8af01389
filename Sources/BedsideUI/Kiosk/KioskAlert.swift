import BedsideCore

/// One alert (a FHIR Flag) as the kiosk shows it: who, how urgent, what triggered it, its state.
public struct KioskAlert: Sendable, Equatable {
    public var id: String
    /// The Flag's version, sent back as If-Match so two nurses cannot overwrite each other.
    public var version: Int
    public var patientID: String
    public var patientName: String
    public var priority: AlertPriority
    /// `active`, or `inactive` once handled.
    public var status: String
    /// What triggered it, with the values (the Flag's `code.text`).
    public var summary: String
    /// When it was raised (epoch milliseconds).
    public var raisedAt: Int64
    public var escalated: Bool
    public var snoozedUntil: Int64?
    public var notes: [Note]
    /// The code of what was measured or scored (LOINC), to show that kind's recent values beside it.
    public var code: String?
    /// The nurse is responsible for this patient (named on the Patient), for "my patients only".
    public var isMyPatient: Bool
    /// What a nurse needs to call the patient: age, phone number, care programme.
    public var contact: PatientContact

    public struct Note: Sendable, Equatable {
        public var author: String
        public var time: Int64?
        public var text: String

        public init(author: String, time: Int64?, text: String) {
            self.author = author
            self.time = time
            self.text = text
        }
    }

    public init(
        id: String, version: Int, patientID: String, patientName: String, priority: AlertPriority, status: String, summary: String,
        raisedAt: Int64, escalated: Bool = false, snoozedUntil: Int64? = nil, notes: [Note] = [], code: String? = nil,
        isMyPatient: Bool = false, contact: PatientContact = PatientContact()
    ) {
        self.contact = contact
        self.code = code
        self.isMyPatient = isMyPatient
        self.id = id
        self.version = version
        self.patientID = patientID
        self.patientName = patientName
        self.priority = priority
        self.status = status
        self.summary = summary
        self.raisedAt = raisedAt
        self.escalated = escalated
        self.snoozedUntil = snoozedUntil
        self.notes = notes
    }

    public var isOpen: Bool { status == "active" }

    /// Snoozed and not yet due back.
    public func isSnoozed(at now: Int64) -> Bool { snoozedUntil.map { $0 > now } ?? false }
}

/// Which alerts the queue shows.
public struct KioskFilter: Sendable, Equatable {
    public enum Status: Sendable, Equatable, CaseIterable {
        /// Active and not snoozed: what needs a nurse now.
        case open
        case snoozed
        case handled
        case all
    }

    /// nil: every priority.
    public var priority: AlertPriority?
    public var status: Status = .open
    /// Only the patients the nurse is responsible for, rather than the whole care team's.
    public var myPatientsOnly = false

    public init(priority: AlertPriority? = nil, status: Status = .open, myPatientsOnly: Bool = false) {
        self.priority = priority
        self.status = status
        self.myPatientsOnly = myPatientsOnly
    }

    public func admits(_ alert: KioskAlert, at now: Int64) -> Bool {
        if let priority, alert.priority != priority { return false }
        if myPatientsOnly, !alert.isMyPatient { return false }
        switch status {
        case .open: return alert.isOpen && !alert.isSnoozed(at: now)
        case .snoozed: return alert.isOpen && alert.isSnoozed(at: now)
        case .handled: return !alert.isOpen
        case .all: return true
        }
    }
}

/// The alert queue: most urgent first, then oldest first, as the filter admits.
public struct AlertQueue: Sendable, Equatable {
    /// Every alert held, always in queue order, so that a frame only filters (5,000 alerts are sorted
    /// when they change, not on every key).
    public private(set) var alerts: [KioskAlert] = []
    public var filter = KioskFilter()
    /// The selected alert's id, so a refresh keeps the nurse's place.
    public var selectedID: String?
    public var top = 0
    /// Where the queue stands with the server: a refresh asks only for what changed since.
    public var cursor: QueueCursor?
    public var loading = false
    public var loaded = false
    /// When the queue was last asked for.
    public var requestedAt: Int64 = 0

    public init() {}

    public func shown(at now: Int64) -> [KioskAlert] {
        alerts.filter { filter.admits($0, at: now) }
    }

    /// Queue order: the more urgent first, then the one raised earlier, then by id (a stable order).
    static func precedes(_ left: KioskAlert, _ right: KioskAlert) -> Bool {
        if left.priority != right.priority { return left.priority > right.priority }
        if left.raisedAt != right.raisedAt { return left.raisedAt < right.raisedAt }
        return left.id < right.id
    }

    /// The whole queue as loaded.
    public mutating func replace(with loaded: [KioskAlert]) {
        alerts = []
        merge(loaded)
    }

    /// A refresh's changes folded in: a newer version replaces the one held, a new alert joins.
    public mutating func merge(_ changed: [KioskAlert]) {
        guard !changed.isEmpty else { return }
        var position: [String: Int] = [:]
        for (index, alert) in alerts.enumerated() { position[alert.id] = index }
        for alert in changed {
            if let index = position[alert.id] {
                if alert.version >= alerts[index].version { alerts[index] = alert }
            } else {
                position[alert.id] = alerts.count
                alerts.append(alert)
            }
        }
        alerts.sort(by: Self.precedes)
    }

    /// Open alerts by priority, for the header: how many red, orange and gray wait.
    public func openCounts(at now: Int64) -> [AlertPriority: Int] {
        var counts: [AlertPriority: Int] = [:]
        for alert in alerts where alert.isOpen && !alert.isSnoozed(at: now) { counts[alert.priority, default: 0] += 1 }
        return counts
    }
}

/// How far the kiosk's queue is up to date, so a refresh asks the server only for the Flags changed
/// since (`_lastUpdated=ge`), however long the queue: with 5,000 open alerts a quiet refresh is one
/// small request, and with If-None-Match a 304.
///
/// `since` stays put while what it brings back is recent, so the same request can be answered 304;
/// it moves up once the answer carries changes the kiosk will never need again.
public struct QueueCursor: Sendable, Equatable {
    /// Server time (epoch milliseconds) from which changes are asked for.
    public var since: Int64
    /// The tag of the last one-page answer to that request, for If-None-Match.
    public var etag: String?

    /// A change committed a moment after a later one was read (two writers) is still caught: each
    /// request reaches this far back before the server's last answer. What comes again is merged by
    /// version, so nothing doubles.
    public static let overlapMilliseconds: Int64 = 30_000

    public init(since: Int64, etag: String? = nil) {
        self.since = since
        self.etag = etag
    }

    /// After loading everything, as the server answered at `answeredAt`.
    public static func start(answeredAt: Int64) -> QueueCursor {
        QueueCursor(since: answeredAt - overlapMilliseconds)
    }

    /// After an answer of changes made at `answeredAt` (server time) whose Flags changed at `changedAt`;
    /// `etag` is the answer's tag, nil when it took more than one page.
    public func advanced(answeredAt: Int64, changedAt: [Int64], etag: String?) -> QueueCursor {
        let settled = answeredAt - Self.overlapMilliseconds
        if changedAt.contains(where: { $0 < settled }) { return QueueCursor(since: settled) }
        return QueueCursor(since: since, etag: etag)
    }
}

/// What the nurse asked for on one alert, sent with the version they saw.
public struct AlertTriage: Sendable, Equatable {
    public var alertID: String
    public var version: Int
    public var action: TriageAction
    public var note: String

    public init(alertID: String, version: Int, action: TriageAction, note: String) {
        self.alertID = alertID
        self.version = version
        self.action = action
        self.note = note
    }
}

/// Writing a note for a triage action before it is sent.
public struct TriageForm: Sendable, Equatable {
    public var alert: KioskAlert
    public var action: TriageAction
    public var note = TextField(maxLength: 1_000)

    public init(alert: KioskAlert, action: TriageAction) {
        self.alert = alert
        self.action = action
    }
}

/// What the kiosk shows beside an alert: the patient's recent values of the alerted kind, and their
/// recent questionnaire answers. Kept only while the alert is open and the kiosk unlocked.
public struct AlertContext: Sendable, Equatable {
    public var patientID: String
    public var kind: MeasurementKind?
    /// The last 30 days of that kind, oldest first.
    public var readings: [MeasurementRecord]
    public var answers: [RecentAnswer]

    public struct RecentAnswer: Sendable, Equatable {
        public var title: String
        public var authored: Int64

        public init(title: String, authored: Int64) {
            self.title = title
            self.authored = authored
        }
    }

    public init(patientID: String, kind: MeasurementKind?, readings: [MeasurementRecord], answers: [RecentAnswer]) {
        self.patientID = patientID
        self.kind = kind
        self.readings = readings
        self.answers = answers
    }
}

/// What a nurse needs beside an alert to call the patient, read from the Patient resource: all of it
/// text from a server, shown inert and cut to a sensible length.
public struct PatientContact: Sendable, Equatable {
    /// FHIR `birthDate` as written (the age is worked out when shown, on that day).
    public var birthDate: String?
    /// The number to call: a mobile one first, then any other current one.
    public var phone: String?
    /// The care programme whose alert rules apply (`heart-failure`, `copd`, `diabetes`, `default`).
    public var programme: String?

    public init(birthDate: String? = nil, phone: String? = nil, programme: String? = nil) {
        self.birthDate = birthDate
        self.phone = phone
        self.programme = programme
    }

    /// The longest phone number or programme code kept: more is not a number anyone dials.
    static let maximumLength = 40

    /// From a Patient resource; what it lacks stays nil.
    public init(patient: JSONValue) {
        func short(_ text: String?) -> String? {
            guard let text = text?.trimmingCharacters(in: " "), !text.isEmpty else { return nil }
            return String(text.prefix(Self.maximumLength))
        }
        let phones = (patient["telecom"]?.arrayValue ?? []).filter {
            $0["system"]?.stringValue == "phone" && $0["use"]?.stringValue != "old" && $0["period"]?["end"] == nil
        }
        let mobile = phones.first { $0["use"]?.stringValue == "mobile" } ?? phones.first
        self.init(
            birthDate: short(patient["birthDate"]?.stringValue), phone: short(mobile?["value"]?.stringValue),
            programme: short(VitalSignRules.programme(of: patient)))
    }
}

/// The kiosk's patient overview: every kind's latest value and last 30 days, and the latest answers.
/// The patient's open alerts come from the queue the kiosk already holds. Kept only while shown.
public struct PatientOverview: Sendable, Equatable {
    public var patientID: String
    public var contact: PatientContact
    /// Each kind's readings of the last 30 days, oldest first.
    public var readings: [MeasurementKind: [MeasurementRecord]]
    /// Each kind's latest reading, however old.
    public var latest: [MeasurementKind: MeasurementRecord]
    public var answers: [AlertContext.RecentAnswer]
    /// Why it could not be loaded, in the nurse's language; nil when it was.
    public var failure: String?

    public init(
        patientID: String, contact: PatientContact, readings: [MeasurementKind: [MeasurementRecord]], latest: [MeasurementKind: MeasurementRecord],
        answers: [AlertContext.RecentAnswer], failure: String? = nil
    ) {
        self.patientID = patientID
        self.contact = contact
        self.readings = readings
        self.latest = latest
        self.answers = answers
        self.failure = failure
    }
}
