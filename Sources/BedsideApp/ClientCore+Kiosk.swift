import BedsideCore
import BedsideSync
import BedsideUI
import BedsideVault
import Foundation

/// The clinician kiosk's session. Nothing of it is ever written to disk: the shared terminal keeps the
/// data directory empty. While locked, only the session token sealed under a key wrapped with the
/// clinician's password remains in memory, so unlocking needs the password and no one else can use it;
/// patient names and alerts are dropped and fetched again.
struct KioskSession {
    var server: String
    var email: String
    var displayName: String
    /// In clear only while unlocked.
    var token: String?
    var wrappedKey: WrappedKey
    var sealedToken: [UInt8]
    /// The clinician's own Practitioner id, to know which patients they are responsible for.
    var practitionerID: String?
    /// What the kiosk knows of the alerts' patients, while unlocked.
    var patients = PatientLabels()

    var info: SessionInfo { SessionInfo(displayName: displayName, email: email, server: server) }
}

/// The alerts' patients as the queue shows them: names, how to reach them, and those the nurse is
/// responsible for.
struct PatientLabels {
    var names: [String: String] = [:]
    var contacts: [String: PatientContact] = [:]
    var mine: Set<String> = []
}

extension ClientCore {
    static let kioskSealContext = (table: "kiosk", row: "session", column: "token")

    /// After the code step in kiosk mode: a clinician's session, in memory only.
    func startKiosk(grant: SessionGrant, server: String, email: String, password: String) async -> [Action] {
        guard grant.role == "clinician" else {
            try? await api(server).logout(token: grant.accessToken)
            return [.loginFailed(t.text(.kioskWrongRole))]
        }
        do {
            let (vault, wrapped) = try KeyVault.create(password: password, parameters: configuration.kdf)
            defer { vault.lock() }
            let context = Self.kioskSealContext
            let sealed = try vault.seal(grant.accessToken, table: context.table, rowID: context.row, column: context.column)
            var name = email
            if let practitioner = grant.practitionerID,
                let resource = try? await api(server).read("Practitioner", id: practitioner, token: grant.accessToken),
                let text = resource["name"]?.arrayValue?.first?["text"]?.stringValue
            {
                name = text
            }
            kiosk = KioskSession(
                server: server, email: email, displayName: name, token: grant.accessToken, wrappedKey: wrapped, sealedToken: sealed,
                practitionerID: grant.practitionerID)
            return [.loggedIn(SessionInfo(displayName: name, email: email, server: server))]
        } catch {
            return [.loginFailed(error.description)]
        }
    }

    func unlockKiosk(password: String) -> [Action] {
        guard var current = kiosk else { return [.unlockFailed(t.text(.errorLoginAgain))] }
        do {
            let vault = try KeyVault.unlock(current.wrappedKey, password: password)
            defer { vault.lock() }
            let context = Self.kioskSealContext
            current.token = try vault.openString(current.sealedToken, table: context.table, rowID: context.row, column: context.column)
            kiosk = current
            return [.unlocked(current.info)]
        } catch VaultError.wrongPassword {
            return [.unlockFailed(t.text(.unlockWrong))]
        } catch {
            return [.unlockFailed(error.description)]
        }
    }

    /// Locked: the token in clear and every patient's name go; the sealed token stays for unlocking.
    func lockKiosk() {
        kiosk?.token = nil
        kiosk?.patients = PatientLabels()
    }

    // MARK: The queue

    /// How far back the handled alerts reach in a full load (the `v` view "handled").
    static let handledAlertsDays: Int64 = 7

    /// The queue: in full without a cursor (the open alerts and those handled in the last week), else
    /// only the Flags changed since it, asked with If-None-Match so that a quiet ward costs a 304.
    func loadAlerts(after cursor: QueueCursor?) async -> [Action] {
        guard let session = kiosk, let token = session.token else { return [.alertsFailed(VaultError.locked.description)] }
        let api = self.api(session.server)
        do {
            guard let cursor else {
                let week = FHIRDateTime.format(epochMilliseconds: clock.now() - Self.handledAlertsDays * 86_400_000)
                let open = try await searchAll("/fhir/Flag?status=active&_count=1000", api: api, token: token)
                let handled = try await searchAll("/fhir/Flag?status=inactive&_lastUpdated=ge\(week)&_count=1000", api: api, token: token)
                let flags = open.flags + handled.flags
                // A fresh start: who the patients are, and who is responsible for them, is read again.
                kiosk?.patients = PatientLabels()
                let patients = await patientLabels(for: flags, api: api, token: token)
                // Both searches may hold one Flag (handled between them): the queue keeps its newest version.
                return [.alertsLoaded(flags.compactMap { Self.alert(from: $0, patients: patients) }, cursor: QueueCursor.start(answeredAt: open.answeredAt ?? clock.now()))]
            }
            let since = FHIRDateTime.format(epochMilliseconds: cursor.since)
            let path = "/fhir/Flag?_lastUpdated=ge\(since)&_sort=_lastUpdated&_count=1000"
            let response = try await api.send("GET", path, token: token, headers: cursor.etag.map { [("If-None-Match", $0)] } ?? [])
            if response.status == 304 { return [.alertsUnchanged] }
            let changes = try await searchAll(path, api: api, token: token, first: response)
            let patients = await patientLabels(for: changes.flags, api: api, token: token)
            // A tag is only worth keeping for a one-page answer: it says nothing of the other pages.
            let next = cursor.advanced(
                answeredAt: changes.answeredAt ?? clock.now(),
                changedAt: changes.flags.compactMap(\.lastUpdatedMilliseconds),
                etag: changes.pages == 1 ? response.header("etag") : nil)
            return [.alertsChanged(changes.flags.compactMap { Self.alert(from: $0, patients: patients) }, cursor: next)]
        } catch {
            return [.alertsFailed(explain(error))]
        }
    }

    /// The most pages of one Flag search read: 100 pages of 1,000 alerts is far more than a care team has open.
    static let maximumFlagPages = 100

    /// Every page of a Flag search (the server gives at most 1,000 a page), with when it answered.
    private func searchAll(_ path: String, api: BedsideAPI, token: String, first: HTTPResponseData? = nil) async throws(APIError)
        -> (flags: [JSONValue], pages: Int, answeredAt: Int64?)
    {
        var next: String? = path
        var flags: [JSONValue] = []
        var pages = 0
        var answeredAt: Int64?
        var answer = first
        while let url = next {
            let response: HTTPResponseData
            if let given = answer { response = given } else { response = try await api.send("GET", url, token: token) }
            answer = nil
            guard response.status == 200, let bundle = response.json else { throw BedsideAPI.refusal(response) }
            if pages == 0 { answeredAt = bundle.lastUpdatedMilliseconds }
            flags += (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
            pages += 1
            next = SyncEngine.nextPage(bundle)
            // Every page is held in memory: a server that never stops sending next links is not followed for ever.
            if next != nil, pages >= Self.maximumFlagPages {
                throw .invalidResponse("the server sent more than \(Self.maximumFlagPages) pages of alerts")
            }
        }
        return (flags, pages, answeredAt)
    }

    /// The flags' patients: those not known yet are read in batches of 100, for their names and for
    /// whether this nurse is named responsible for them (`generalPractitioner`).
    private func patientLabels(for flags: [JSONValue], api: BedsideAPI, token: String) async -> PatientLabels {
        var labels = kiosk?.patients ?? PatientLabels()
        let wanted = Set(flags.compactMap(Self.patientID(of:))).subtracting(labels.names.keys).sorted()
        guard !wanted.isEmpty else { return labels }
        let me = kiosk?.practitionerID.map { "Practitioner/\($0)" }
        for chunk in stride(from: 0, to: wanted.count, by: 100).map({ Array(wanted[$0..<min($0 + 100, wanted.count)]) }) {
            let patients = await batchGET(chunk.map { "Patient/\($0)" }, api: api, token: token)
            for (id, patient) in zip(chunk, patients) {
                if let text = patient["name"]?.arrayValue?.first?["text"]?.stringValue { labels.names[id] = text }
                labels.contacts[id] = PatientContact(patient: patient)
                if let me, (patient["generalPractitioner"]?.arrayValue ?? []).contains(where: { $0["reference"]?.stringValue == me }) {
                    labels.mine.insert(id)
                }
            }
        }
        kiosk?.patients = labels
        return labels
    }

    static func patientID(of flag: JSONValue) -> String? {
        guard let reference = flag["subject"]?["reference"]?.stringValue, reference.hasPrefix("Patient/") else { return nil }
        return String(reference.dropFirst("Patient/".count))
    }

    /// A Flag as the kiosk shows it.
    static func alert(from flag: JSONValue, patients: PatientLabels) -> KioskAlert? {
        guard let id = flag["id"]?.stringValue, let patientID = patientID(of: flag) else { return nil }
        let summary = flag["code"]?["text"]?.stringValue ?? flag["code"]?["coding"]?.arrayValue?.first?["display"]?.stringValue ?? "Alert"
        return KioskAlert(
            id: id, version: flag["meta"]?["versionId"]?.stringValue.flatMap { Int($0) } ?? 1, patientID: patientID,
            patientName: patients.names[patientID] ?? "Patient/\(patientID)", priority: AlertPriority(flag: flag) ?? .gray, status: flag["status"]?.stringValue ?? "active",
            summary: summary,
            raisedAt: flag["period"]?["start"]?.stringValue.flatMap(FHIRDateTime.init)?.lowerBound
                ?? flag.lastUpdatedMilliseconds ?? 0,
            escalated: FlagTriage.isEscalated(flag), snoozedUntil: FlagTriage.snoozedUntil(flag),
            notes: FlagTriage.notes(flag).map { KioskAlert.Note(author: $0.author, time: $0.time, text: $0.text) },
            code: flag["code"]?["coding"]?.arrayValue?.first?["code"]?.stringValue, isMyPatient: patients.mine.contains(patientID),
            contact: patients.contacts[patientID] ?? PatientContact())
    }

    // MARK: Triage

    /// Reads the Flag, and writes the decision into it with If-Match on the version the nurse saw. If
    /// someone else changed it first (a newer version, or a 412), the nurse sees theirs and decides again.
    func triage(_ decision: AlertTriage) async -> [Action] {
        guard let session = kiosk, let token = session.token else { return [.failed(VaultError.locked.description)] }
        let api = self.api(session.server)
        do {
            let current = try await api.read("Flag", id: decision.alertID, token: token)
            guard let seen = Self.alert(from: current, patients: session.patients) else { return [.failed(t.text(.errorServerSaid, "Flag"))] }
            if seen.version != decision.version { return [.triageConflict(current: seen, attempted: decision)] }
            let changed = FlagTriage.apply(decision.action, note: decision.note, by: session.displayName, at: clock.now(), to: current)
            let answer = try await api.send(
                "PUT", "/fhir/Flag/\(decision.alertID)", json: changed, token: token, headers: [("If-Match", "W/\"\(decision.version)\"")])
            if answer.status == 412 {
                let newer = try await api.read("Flag", id: decision.alertID, token: token)
                guard let alert = Self.alert(from: newer, patients: session.patients) else { return [.failed(explain(BedsideAPI.refusal(answer)))] }
                return [.triageConflict(current: alert, attempted: decision)]
            }
            guard answer.status == 200, let stored = answer.json ?? Optional(changed), let alert = Self.alert(from: stored, patients: session.patients)
            else { return [.failed(explain(BedsideAPI.refusal(answer)))] }
            return [.triaged(alert)]
        } catch {
            return [.failed(explain(error))]
        }
    }
}

extension ClientCore {
    /// The kind an alert's code names: a vital sign's own LOINC code, or a blood-pressure component's.
    static func kind(ofAlertCode code: String?) -> MeasurementKind? {
        guard let code else { return nil }
        if let kind = MeasurementKind(loincCode: code) { return kind }
        return MeasurementPart.bloodPressureComponent(loincCode: code) != nil ? .bloodPressure : nil
    }

    /// The patient's last 30 days of the alerted kind and their five latest answers, in one batch (and
    /// one more for the answers' form titles).
    func loadAlertContext(patientID: String, code: String?) async -> [Action] {
        guard let session = kiosk, let token = session.token else { return [] }
        let api = self.api(session.server)
        let kind = Self.kind(ofAlertCode: code)
        let since = FHIRDateTime.format(epochMilliseconds: clock.now() - 30 * 86_400_000)
        var urls = ["QuestionnaireResponse?patient=\(patientID)&_sort=-authored&_count=5"]
        if let kind, let loinc = kind.loincCodes.first {
            urls.append("Observation?patient=\(patientID)&code=http://loinc.org%7C\(loinc)&date=ge\(since)&_sort=date&_count=1000")
        }
        let entries = await batchGET(urls, api: api, token: token)
        let readings = Self.records(in: entries.count > 1 ? entries[1] : [:])
        let answers = await recentAnswers(in: entries.first ?? [:], api: api, token: token)
        return [.alertContextLoaded(AlertContext(patientID: patientID, kind: kind, readings: readings, answers: answers))]
    }

    /// The readings of a search answer that count (not withdrawn), oldest first.
    private static func records(in bundle: JSONValue) -> [MeasurementRecord] {
        (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }.compactMap(ObservationReader.record(from:))
            .filter { $0.syncState != .withdrawn }.sorted { $0.effectiveAt < $1.effectiveAt }
    }

    /// The QuestionnaireResponses of a search answer with their forms' titles (one more batch).
    private func recentAnswers(in bundle: JSONValue, api: BedsideAPI, token: String) async -> [AlertContext.RecentAnswer] {
        let responses = (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
        // Titles of the answered forms, by their canonical url.
        let canonicals = Array(Set(responses.compactMap { $0["questionnaire"]?.stringValue.map(SyncEngine.unversioned) })).sorted()
        let forms = await batchGET(
            canonicals.map { "Questionnaire?url=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) }, api: api, token: token)
        var titles: [String: String] = [:]
        for (canonical, bundle) in zip(canonicals, forms) {
            let form = bundle["entry"]?.arrayValue?.first?["resource"]
            if let title = form?["title"]?.stringValue ?? form?["name"]?.stringValue { titles[canonical] = title }
        }
        return responses.compactMap { response -> AlertContext.RecentAnswer? in
            guard let authored = response["authored"]?.stringValue.flatMap(FHIRDateTime.init)?.lowerBound else { return nil }
            let canonical = response["questionnaire"]?.stringValue.map(SyncEngine.unversioned) ?? ""
            return AlertContext.RecentAnswer(title: titles[canonical] ?? canonical, authored: authored)
        }
    }

    /// The patient overview in one batch: the Patient, the last 30 days of every kind, each kind's latest
    /// reading however old, and the five latest answers (one more batch for the forms' titles).
    func loadPatientOverview(patientID: String) async -> [Action] {
        guard let session = kiosk, let token = session.token else { return [] }
        let api = self.api(session.server)
        let since = FHIRDateTime.format(epochMilliseconds: clock.now() - 30 * 86_400_000)
        let kinds = MeasurementKind.allCases
        var urls = [
            "Patient/\(patientID)",
            "QuestionnaireResponse?patient=\(patientID)&_sort=-authored&_count=5",
            "Observation?patient=\(patientID)&date=ge\(since)&_sort=date&_count=1000",
        ]
        for kind in kinds {
            let codes = kind.loincCodes.map { "http://loinc.org%7C\($0)" }.joined(separator: ",")
            urls.append("Observation?patient=\(patientID)&code=\(codes)&_sort=-date&_count=1")
        }
        func failed(_ reason: String) -> [Action] {
            [.patientOverviewLoaded(PatientOverview(patientID: patientID, contact: PatientContact(), readings: [:], latest: [:], answers: [], failure: reason))]
        }
        let entries: [JSONValue]
        do { entries = try await checkedBatchGET(urls, api: api, token: token) } catch { return failed(explain(error)) }
        // The Patient's entry is an OperationOutcome when it could not be read (gone, or no longer in the team).
        guard entries[0]["resourceType"]?.stringValue == "Patient" else {
            return failed(t.text(.errorServerSaid, entries[0]["issue"]?.arrayValue?.first?["diagnostics"]?.stringValue ?? "Patient"))
        }
        let month = Dictionary(grouping: Self.records(in: entries[2]), by: \.kind)
        var latest: [MeasurementKind: MeasurementRecord] = [:]
        for (kind, bundle) in zip(kinds, entries.dropFirst(3)) {
            if let record = Self.records(in: bundle).last(where: { $0.kind == kind }) { latest[kind] = record }
        }
        let answers = await recentAnswers(in: entries[1], api: api, token: token)
        return [.patientOverviewLoaded(PatientOverview(
            patientID: patientID, contact: PatientContact(patient: entries[0]), readings: month, latest: latest, answers: answers))]
    }

    /// GETs in one batch; each entry's resource, or an empty object where one failed (or the batch did).
    private func batchGET(_ urls: [String], api: BedsideAPI, token: String) async -> [JSONValue] {
        (try? await checkedBatchGET(urls, api: api, token: token)) ?? urls.map { _ in [:] }
    }

    /// GETs in one batch; each entry's resource, or an empty object where one failed. Throws when the
    /// batch as a whole was not answered.
    private func checkedBatchGET(_ urls: [String], api: BedsideAPI, token: String) async throws(APIError) -> [JSONValue] {
        guard !urls.isEmpty else { return [] }
        let batch: JSONValue = [
            "resourceType": "Bundle", "type": "batch",
            "entry": .array(urls.map { ["request": ["method": "GET", "url": .string($0)]] }),
        ]
        let answer = try await api.send("POST", "/fhir", json: batch, token: token)
        guard answer.status == 200 else { throw BedsideAPI.refusal(answer) }
        guard let entries = answer.json?["entry"]?.arrayValue, entries.count == urls.count else {
            throw .invalidResponse("the server's batch answer does not hold one entry per request")
        }
        return entries.map { $0["resource"] ?? [:] }
    }
}
