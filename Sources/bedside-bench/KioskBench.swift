import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideHeadless
@_spi(Benchmarks) import BedsideServerKit
import BedsideSync
import BedsideUI
import Foundation
import Logging

/// `bedside-bench kiosk`: a ward of 1,000 patients with 5,000 open alerts on the real server over TLS.
/// The real kiosk (state machine, effects, views, headless) logs a nurse in and keeps the queue fresh:
/// a refresh and the frame after it, quiet and with other nurses' changes, against a plain
/// `GET /fhir/metadata` in the same run. And the server's alert rules on each ingested Observation,
/// against storing the Observation itself.
struct KioskBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiosk",
        abstract: "Kiosk queue refresh + render with 5,000 open alerts, and rule evaluation per ingested Observation.")

    @Option(help: "Patients in the nurse's care team.")
    var patients = 1000

    @Option(help: "Open alerts (Flags), spread over the patients.")
    var alerts = 5000

    @Option(help: "Readings per patient over the last 30 days (the rules' history).")
    var history = 60

    @Option(help: "Refreshes timed, each kind (quiet, with changes).")
    var refreshes = 300

    @Option(help: "Flags other nurses change before each refresh with changes.")
    var changesPerRefresh = 3

    @Option(help: "Observations ingested with their rules timed.")
    var observations = 3000

    static let nurseEmail = "nurse@bench.bedside.test"
    static let nursePassword = "bench-lantern-orbit-42"

    func run() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory() + "bedside-bench-kiosk-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var configuration = ServerConfiguration(dataDirectory: root.appendingPathComponent("server"))
        configuration.port = 0
        configuration.hasher = .testing
        configuration.withoutDefaultBudgets()  // one loopback address plays every patient
        let store = try configuration.openStore()
        // One clock for the server and the kiosk, moved 10 s per refresh as the ward's time would.
        let clock = ManualClock(epochMilliseconds: SystemClock().now())
        let administration = ServerAdministration(store: store, clock: clock, hasher: .testing)

        // 1. The ward: patients in programmes, their readings, and the open alerts the rules raised.
        let (ward, setupMS) = try await measureAsync {
            try await Self.ward(
                store: store, administration: administration, clock: clock, patients: patients, alerts: alerts, history: history)
        }
        let openFlags = ward.flagIDs.count

        var logger = Logger(label: "bedside-bench.kiosk")
        logger.logLevel = .warning
        let running = try await BedsideServer(configuration: configuration, store: store, clock: clock, logger: logger).start()
        let server = "https://127.0.0.1:\(running.port)"
        let caFile = configuration.tlsDirectory.appendingPathComponent("ca.pem").path

        // 2. The kiosk, logged in as a nurse would (password, then the mailed code).
        var clientConfiguration = ClientConfiguration(
            dataDirectory: root.appendingPathComponent("kiosk"), server: server, transport: TransportConfiguration(caFile: caFile))
        clientConfiguration.kiosk = true
        clientConfiguration.kdf = .testing
        // The idle lock is not what is measured; the refreshes alone would trip it after 2 minutes.
        clientConfiguration.kioskIdleTimeout = 365 * 86_400_000
        let core = ClientCore(configuration: clientConfiguration, clock: clock)
        let mailbox = MaildirMailer(directory: configuration.mailDirectory)
        let runner = HeadlessRunner(
            state: clientConfiguration.initialState(width: 80, height: 24, now: clock.now(), utcOffsetSeconds: 3600, idSeed: 7),
            core: core, clock: clock,
            variables: { name in
                switch name {
                case "EMAIL": Self.nurseEmail
                case "PASSWORD": Self.nursePassword
                case "LOGIN_CODE": mailbox.latestLoginCode(to: Self.nurseEmail)
                default: nil
                }
            },
            output: { _ in })
        let login = try ScriptParser.parse(
            "type \"${EMAIL}\"\npress Tab\ntype \"${PASSWORD}\"\npress Enter\ntype \"${LOGIN_CODE}\"\npress Enter\nexpect \"Alerts (\(openFlags))\"\n",
            name: "kiosk-login")
        let (loginResult, firstLoadMS) = await measureAsync { await runner.run(login) }
        guard loginResult.failed == 0 else { throw ValidationError("the kiosk did not show the \(openFlags) alerts after login") }

        // 3. Full loads (login, unlock, r): every open alert and those handled this week, names, frame.
        var fullLoads = Samples()
        for _ in 0..<5 {
            let (_, ms) = await measureAsync {
                await runner.press(.character("r"))
                _ = runner.frame
            }
            fullLoads.add(ms)
        }

        // 4. Refreshes every 10 s: quiet ones (a 304), and ones after other nurses changed a few Flags.
        func refresh() async -> Double {
            let (_, ms) = await measureAsync {
                await runner.advance(milliseconds: 10_000)
                _ = runner.frame
            }
            return ms
        }
        var quiet = Samples()
        for _ in 0..<3 { _ = await refresh() }  // the cursor settles past the login's overlap
        for _ in 0..<refreshes { quiet.add(await refresh()) }
        var changed = Samples()
        var changedFlags = 0
        for round in 0..<refreshes {
            try await Self.noteOnFlags(ward.flagIDs, round: round, count: changesPerRefresh, store: store, clock: clock)
            changedFlags += changesPerRefresh
            changed.add(await refresh())
        }
        // Every refresh did its work: the queue holds every alert, with every other nurse's note.
        guard case .alerts(let queue) = runner.state.stack.first, queue.alerts.count == openFlags else {
            throw ValidationError("the queue lost alerts on the way")
        }
        let notesSeen = queue.alerts.filter { !$0.notes.isEmpty }.count
        guard notesSeen == min(changedFlags, openFlags) else {
            throw ValidationError("the kiosk saw \(notesSeen) of the \(changedFlags) changed alerts: \(runner.frame.text)")
        }
        await running.flushAudit()
        let answered304 = try store.readNow { db in try db.auditEvents(after: 0, limit: 1_000_000) }
            .filter { $0.event.action == "search" && $0.event.resourceType == "Flag" && $0.event.httpStatus == 304 }.count

        // 5. A key and its frame with 5,000 alerts in the queue (sorting and filtering on every frame).
        var keys = Samples()
        for index in 0..<refreshes {
            let key: Key = index % 50 == 49 ? .home : (index % 10 == 9 ? .pageDown : .down)
            let (_, ms) = await measureAsync {
                await runner.press(key)
                _ = runner.frame
            }
            keys.add(ms)
        }

        // 6. The baseline, the same way over the same TLS: the smallest answer the server gives.
        let transport = HTTPTransport(configuration: TransportConfiguration(caFile: caFile))
        var metadata = Samples()
        for _ in 0..<refreshes {
            let (response, ms) = try await measureAsync {
                try await transport.send(HTTPRequestSpec(method: "GET", url: server + "/fhir/metadata", headers: []))
            }
            guard response.status == 200 else { throw ValidationError("metadata answered \(response.status)") }
            metadata.add(ms)
        }
        transport.closeConnections()
        await core.lock()
        await running.stop()

        // 7. The rules on each ingested Observation, in the ingest's own transaction.
        let rules = try Self.ruleEvaluation(store: store, patientIDs: ward.patientIDs, clock: clock, count: observations)
        try store.close()

        let refreshTarget = 50.0
        let report: JSONValue = [
            "benchmark": "kiosk",
            "build": .string(buildConfiguration),
            "cores": .number(ProcessInfo.processInfo.activeProcessorCount),
            "patients": .number(ward.patientIDs.count),
            "openAlerts": .number(openFlags),
            "storedObservations": .number(ward.observations),
            "setupSeconds": .number(round3(setupMS / 1000)),
            "transport": "libcurl, TLS on loopback, the dev CA verified",
            "queue": [
                "loginToFullQueueMs": .number(round3(firstLoadMS)),
                "fullLoadMs": fullLoads.json,
                "quietRefreshAndFrameMs": quiet.json,
                "refreshWithChangesAndFrameMs": changed.json,
                "changesPerRefresh": .number(changesPerRefresh),
                "changedFlagsSeenWithNotes": .number(notesSeen),
                "quietRefreshesAnswered304": .number(answered304),
                "keyToFrameMs": keys.json,
                "baselineMetadataMs": metadata.json,
                "ratioQuietP50ToBaseline": .number(round3(quiet.percentile(50) / max(metadata.percentile(50), 0.001))),
                "ratioChangedP50ToBaseline": .number(round3(changed.percentile(50) / max(metadata.percentile(50), 0.001))),
                "target": [
                    "refreshAndRenderP99Ms": .number(refreshTarget),
                    "met": .bool(max(quiet.percentile(99), changed.percentile(99)) <= refreshTarget),
                ],
            ],
            "rules": [
                "observations": .number(rules.evaluation.values.count),
                "newFlags": .number(rules.newFlags),
                "evaluationMs": rules.evaluation.json,
                "baselineStoreObservationMs": rules.store.json,
                "ratioP50ToBaseline": .number(round3(rules.evaluation.percentile(50) / max(rules.store.percentile(50), 0.000_1))),
                "target": ["p99Ms": 1, "met": .bool(rules.evaluation.percentile(99) <= 1)],
            ],
        ]
        print(report.serializedString())
    }

    // MARK: The ward

    struct Ward {
        var patientIDs: [String]
        var flagIDs: [String]
        var observations: Int
    }

    /// Out-of-band readings that each raise an alert of their own rule (and so a Flag of their own).
    static let alerting: [(MeasurementKind, [ObservationBuilder.Value])] = [
        (.bloodPressure, [.init(part: .systolic, value: 184), .init(part: .diastolic, value: 88)]),
        (.oxygenSaturation, [.init(part: .oxygenSaturation, value: 84)]),
        (.heartRate, [.init(part: .heartRate, value: 118)]),
        (.bodyTemperature, [.init(part: .bodyTemperature, value: 38.9)]),
        (.glucose, [.init(part: .glucoseMolar, value: 16.2)]),
        (.respiratoryRate, [.init(part: .respiratoryRate, value: 27)]),
    ]

    static func ward(
        store: any ServerStore, administration: ServerAdministration, clock: any WallClock, patients: Int, alerts: Int, history: Int
    ) async throws -> Ward {
        _ = try await administration.addUser(email: nurseEmail, role: .clinician, password: nursePassword, name: "Bench Nurse")
        var patientIDs: [String] = []
        for index in 0..<patients {
            let email = "patient-\(index)@bench.bedside.test"
            let account = try await administration.addUser(
                email: email, role: .patient, password: "bench-password-\(index)-x", name: "Bench Patient \(index)")
            guard let id = account.patientID else { continue }
            patientIDs.append(id)
            try await administration.addTeamMember(clinicianEmail: nurseEmail, patientEmail: email)
            try await administration.setProgramme(VitalSignRules.programmeNames[index % 4], patientEmail: email)
        }
        // A month of ordinary readings each, spread over the kinds the rules look at.
        let now = clock.now()
        let ids = patientIDs
        var stored = try await store.write { db in
            var generator = SystemRandomNumberGenerator()
            var stored = 0
            for (index, patientID) in ids.enumerated() {
                for reading in 0..<history {
                    let (kind, values) = ordinary(reading + index, using: &generator)
                    let time = now - Int64(reading) * 30 * 86_400_000 / Int64(max(history, 1)) - 60_000
                    try db.put(observation(kind: kind, values: values, patientID: patientID, at: time))
                    stored += 1
                }
            }
            return stored
        }
        // Alerts the way they arise: out-of-band readings through each patient's rules.
        let perPatient = min(alerting.count, (alerts + patients - 1) / max(patients, 1))
        stored += try await store.write { db in
            var raised = 0
            for patientID in ids {
                for (kind, values) in alerting.prefix(perPatient) where raised < alerts {
                    let reading = observation(kind: kind, values: values, patientID: patientID, at: now - 3_600_000)
                    try db.put(reading)
                    try ObservationFollowUp.evaluate(reading, db: db, now: now - Int64.random(in: 0..<86_400_000))
                    raised += 1
                }
            }
            return raised
        }
        let flagIDs = try await store.read { db in
            var query = ResourceQuery(type: "Flag")
            query.statuses = ["active"]
            query.count = 1_000_000
            return try db.search(query).resources.map(\.id)
        }
        return Ward(patientIDs: patientIDs, flagIDs: flagIDs, observations: stored)
    }

    static func ordinary(_ index: Int, using generator: inout SystemRandomNumberGenerator) -> (MeasurementKind, [ObservationBuilder.Value]) {
        switch index % 4 {
        case 0: (.bodyWeight, [.init(part: .bodyWeight, value: Double(Int.random(in: 700...720, using: &generator)) / 10)])
        case 1: (.heartRate, [.init(part: .heartRate, value: Double(Int.random(in: 60...90, using: &generator)))])
        case 2: (.oxygenSaturation, [.init(part: .oxygenSaturation, value: Double(Int.random(in: 94...99, using: &generator)))])
        default:
            (.bloodPressure, [
                .init(part: .systolic, value: Double(Int.random(in: 115...150, using: &generator))),
                .init(part: .diastolic, value: Double(Int.random(in: 70...90, using: &generator))),
            ])
        }
    }

    static func observation(kind: MeasurementKind, values: [ObservationBuilder.Value], patientID: String, at time: Int64) -> StoredResource {
        let json = ObservationBuilder.observation(
            kind: kind, values: values, effective: FHIRDateTime.format(epochMilliseconds: time, utcOffsetSeconds: 3600),
            patientID: patientID, clientID: UUID().uuidString.lowercased())
        return FHIRService.stamp(json, type: .observation, id: UUID().uuidString.lowercased(), version: 1, at: time)
    }

    /// Other nurses at work: a note on a few Flags, each a new version stamped now.
    static func noteOnFlags(_ ids: [String], round: Int, count: Int, store: any ServerStore, clock: any WallClock) async throws {
        let now = clock.now()
        try await store.write { db in
            for offset in 0..<count {
                let id = ids[(round * count + offset) % ids.count]
                guard let current = try db.resource(type: "Flag", id: id), let flag = JSONParser.parseOrNil(current.json) else { continue }
                let noted = FlagTriage.apply(.note, note: "Called, round \(round)", by: "Nurse Ben", at: now, to: flag)
                try db.put(FHIRService.stamp(noted, type: .flag, id: id, version: current.versionID + 1, at: max(now, current.lastUpdated + 1)))
            }
        }
    }

    // MARK: Rules

    struct RuleTimes {
        var evaluation = Samples()
        var store = Samples()
        var newFlags = 0
    }

    /// Readings as they arrive (a quarter out of band), each stored and then run through the patient's
    /// rules in the same transaction, as ingest does; the two timed apart.
    static func ruleEvaluation(store: SQLiteServerStore, patientIDs: [String], clock: ManualClock, count: Int) throws -> RuleTimes {
        var times = RuleTimes()
        var generator = SystemRandomNumberGenerator()
        let flagsBefore = try store.readNow { db in try db.count(type: "Flag") }
        for index in 0..<count {
            clock.advance(seconds: 1)
            let now = clock.now()
            let patientID = patientIDs[Int.random(in: 0..<patientIDs.count, using: &generator)]
            let (kind, values) = index % 4 == 3 ? alerting[index % alerting.count] : ordinary(index, using: &generator)
            let reading = observation(kind: kind, values: values, patientID: patientID, at: now)
            try store.writeNow { db in
                let (_, storeMS) = try measure { try db.put(reading) }
                let (_, ruleMS) = try measure { try ObservationFollowUp.evaluate(reading, db: db, now: now) }
                times.store.add(storeMS)
                times.evaluation.add(ruleMS)
            }
        }
        times.newFlags = try store.readNow { db in try db.count(type: "Flag") } - flagsBefore
        return times
    }
}
