import BedsideCore
import Foundation

/// A realistic demo: two clinicians, six patients with heart failure, COPD or diabetes, 90 days of
/// plausible measurements each (with the drifts those conditions show), and questionnaire assignments.
/// The data is the same every time (a seeded generator), so screenshots and tests can rely on it.
public struct DemoSeeder: Sendable {
    public struct Login: Sendable {
        public var email: String
        public var password: String
        public var role: Role
        public var name: String
        public var condition: String?
    }

    public enum Condition: String, Sendable {
        case heartFailure = "heart failure", copd = "COPD", diabetes

        /// The care programme whose alert rules apply.
        var programme: String {
            switch self {
            case .heartFailure: "heart-failure"
            case .copd: "copd"
            case .diabetes: "diabetes"
            }
        }
    }

    struct PatientPlan {
        var email: String
        var name: String
        /// Made up: numbers in a demo must reach no one.
        var phone: String
        var birthDate: String
        var condition: Condition
        /// A patient whose readings worsen over the last days, so the demo has something to triage.
        var deteriorating: Bool
        var clinician: Int
    }

    public static let clinicians: [(email: String, name: String, password: String)] = [
        ("nurse.anna@demo.bedside.test", "Anna de Vries", "demo-nurse-anna-71"),
        ("nurse.ben@demo.bedside.test", "Ben Okafor", "demo-nurse-ben-83"),
    ]

    static let patients: [PatientPlan] = [
        PatientPlan(email: "marie@demo.bedside.test", name: "Marie Jansen", phone: "+31 6 1234 5601", birthDate: "1946-03-14", condition: .heartFailure, deteriorating: true, clinician: 0),
        PatientPlan(email: "henk@demo.bedside.test", name: "Henk Bakker", phone: "+31 6 1234 5602", birthDate: "1951-11-02", condition: .heartFailure, deteriorating: false, clinician: 0),
        PatientPlan(email: "fatima@demo.bedside.test", name: "Fatima El Amrani", phone: "+31 6 1234 5603", birthDate: "1958-07-23", condition: .copd, deteriorating: true, clinician: 0),
        PatientPlan(email: "klaus@demo.bedside.test", name: "Klaus Weber", phone: "+49 151 2345 6704", birthDate: "1949-01-30", condition: .copd, deteriorating: false, clinician: 1),
        PatientPlan(email: "sophie@demo.bedside.test", name: "Sophie Martin", phone: "+31 6 1234 5605", birthDate: "1963-05-09", condition: .diabetes, deteriorating: false, clinician: 1),
        PatientPlan(email: "jan@demo.bedside.test", name: "Jan Visser", phone: "+31 6 1234 5606", birthDate: "1955-09-17", condition: .diabetes, deteriorating: true, clinician: 1),
    ]

    public static let patientPassword = "demo-patient-2026"

    public let administration: ServerAdministration
    public let store: any ServerStore
    public let clock: any WallClock

    public init(administration: ServerAdministration) {
        self.administration = administration
        self.store = administration.store
        self.clock = administration.clock
    }

    /// Creates everything; fails without changing anything if the demo accounts already exist.
    public func seed(days: Int = 90) async throws -> [Login] {
        let firstEmail = Self.clinicians[0].email
        if try await store.read({ db in try db.account(email: firstEmail) }) != nil {
            throw AdministrationError("The demo data is already there (\(firstEmail) exists). Use a fresh --data-dir to seed again.")
        }
        var logins: [Login] = []
        for clinician in Self.clinicians {
            _ = try await administration.addUser(email: clinician.email, role: .clinician, password: clinician.password, name: clinician.name)
            logins.append(Login(email: clinician.email, password: clinician.password, role: .clinician, name: clinician.name, condition: nil))
        }
        var generator = SeededGenerator(seed: 20_261_123)
        for plan in Self.patients {
            let account = try await administration.addUser(
                email: plan.email, role: .patient, password: Self.patientPassword, name: plan.name, birthDate: plan.birthDate,
                phone: plan.phone)
            // One ward: both nurses see every patient; each is responsible for their own three (the kiosk's "m").
            for (index, clinician) in Self.clinicians.enumerated() {
                try await administration.addTeamMember(clinicianEmail: clinician.email, patientEmail: plan.email, responsible: index == plan.clinician)
            }
            try await administration.setProgramme(plan.condition.programme, patientEmail: plan.email)
            logins.append(Login(email: plan.email, password: Self.patientPassword, role: .patient, name: plan.name, condition: plan.condition.rawValue))
            guard let patientID = account.patientID else { continue }
            let observations = measurements(for: plan, patientID: patientID, days: days, generator: &generator)
            let now = clock.now()
            try await store.write { db in
                for observation in observations {
                    let stamped = FHIRService.stamp(observation, type: .observation, id: UUID().uuidString.lowercased(), version: 1, at: now)
                    try db.put(stamped)
                    // The patient's rules run as they would have on arrival, so the kiosk demo has alerts to triage.
                    try ObservationFollowUp.apply(stamped, db: db, info: AlertScheduler.systemInfo, now: now)
                }
            }
            let due = FHIRDateTime(epochMilliseconds: now + 2 * 86_400_000)
            _ = try await administration.assign(questionnaire: Self.checkIn(for: plan.condition), patientEmail: plan.email, due: due)
        }
        return logins
    }

    /// Morning (and for some kinds evening) readings over `days`, ending today.
    func measurements(for plan: PatientPlan, patientID: String, days: Int, generator: inout SeededGenerator) -> [JSONValue] {
        let now = clock.now()
        let offset = 3600  // the demo patients live in Central European Time
        let dayMS: Int64 = 86_400_000
        let startOfToday = (now + Int64(offset) * 1000) / dayMS * dayMS - Int64(offset) * 1000
        var weight = Double.random(in: 68...92, using: &generator)
        var result: [JSONValue] = []
        for day in stride(from: days - 1, through: 0, by: -1) {
            let morning = startOfToday - Int64(day) * dayMS + Int64(7 * 3600 + Int.random(in: 0...5400, using: &generator)) * 1000
            guard morning < now else { continue }
            // Deteriorating patients drift over the last five days.
            let drift = plan.deteriorating && day < 5 ? Double(5 - day) : 0
            let effective = FHIRDateTime.format(epochMilliseconds: morning, utcOffsetSeconds: offset)
            func add(_ kind: MeasurementKind, _ values: [ObservationBuilder.Value], note: String? = nil) {
                result.append(ObservationBuilder.observation(
                    kind: kind, values: values, effective: effective, patientID: patientID, clientID: UUID().uuidString.lowercased(),
                    note: note))
            }
            func rounded(_ value: Double, _ digits: Int) -> Double {
                let scale = pow(10, Double(digits))
                return (value * scale).rounded() / scale
            }
            let systolic = (128 + Double.random(in: -9...9, using: &generator) + drift * 9).rounded()
            let diastolic = (79 + Double.random(in: -6...6, using: &generator) + drift * 3).rounded()
            let pulse = (72 + Double.random(in: -8...8, using: &generator) + drift * 4).rounded()
            switch plan.condition {
            case .heartFailure:
                weight += Double.random(in: -0.25...0.25, using: &generator) + (drift > 0 ? 0.6 : 0)
                add(.bodyWeight, [.init(part: .bodyWeight, value: rounded(weight, 1))], note: drift >= 3 ? "Ankles swollen, shoes feel tight" : nil)
                add(.bloodPressure, [.init(part: .systolic, value: systolic), .init(part: .diastolic, value: diastolic), .init(part: .pulseInPanel, value: pulse)])
            case .copd:
                let saturation = min(99, (94 + Double.random(in: -2...2, using: &generator) - drift * 1.2).rounded())
                add(.oxygenSaturation, [.init(part: .oxygenSaturation, value: saturation)])
                add(.heartRate, [.init(part: .heartRate, value: pulse)])
                add(.respiratoryRate, [.init(part: .respiratoryRate, value: (16 + Double.random(in: -2...2, using: &generator) + drift * 1.5).rounded())])
                add(.bodyTemperature, [.init(part: .bodyTemperature, value: rounded(36.8 + Double.random(in: -0.3...0.3, using: &generator) + drift * 0.25, 1))],
                    note: drift >= 4 ? "More breathless than usual, coughing up phlegm" : nil)
            case .diabetes:
                let fasting = rounded(6.4 + Double.random(in: -0.9...0.9, using: &generator) + drift * 1.8, 1)
                add(.glucose, [.init(part: .glucoseMolar, value: fasting)])
                if day % 3 == 0 {
                    add(.bloodPressure, [.init(part: .systolic, value: systolic), .init(part: .diastolic, value: diastolic)])
                }
                if day % 7 == 0 {
                    weight += Double.random(in: -0.4...0.4, using: &generator)
                    add(.bodyWeight, [.init(part: .bodyWeight, value: rounded(weight, 1))])
                }
            }
        }
        return result
    }

    /// A short check-in questionnaire per condition.
    static func checkIn(for condition: Condition) -> JSONValue {
        let url = "https://bedside.example/Questionnaire/\(condition == .heartFailure ? "hf" : condition == .copd ? "copd" : "diabetes")-check-in"
        func yesNo(_ linkId: String, _ text: String) -> JSONValue {
            ["linkId": .string(linkId), "text": .string(text), "type": "boolean", "required": true]
        }
        var items: [JSONValue] = []
        switch condition {
        case .heartFailure:
            items = [
                yesNo("breathless", "Are you more short of breath than usual?"),
                yesNo("swelling", "Are your ankles or legs more swollen than usual?"),
                yesNo("pillows", "Do you need more pillows to sleep?"),
            ]
        case .copd:
            items = [
                yesNo("breathless", "Are you more breathless than usual?"),
                yesNo("sputum", "Has your phlegm changed colour or amount?"),
                yesNo("inhaler", "Do you need your reliever inhaler more often?"),
            ]
        case .diabetes:
            items = [
                yesNo("hypo", "Did you have a low sugar (hypo) since the last check-in?"),
                yesNo("feet", "Do you have a new sore or wound on your feet?"),
            ]
        }
        items.append(["linkId": "remark", "text": "Anything else you want your nurse to know?", "type": "text", "required": false])
        return [
            "resourceType": "Questionnaire",
            "url": .string(url),
            "version": "1",
            "name": .string("\(condition.rawValue.replacingOccurrences(of: " ", with: ""))CheckIn"),
            "title": .string("\(condition.rawValue.prefix(1).uppercased() + condition.rawValue.dropFirst()) check-in"),
            "status": "active",
            "language": "en",
            "subjectType": ["Patient"],
            "item": .array(items),
        ]
    }
}

/// SplitMix64: a small, fast, seedable generator so the demo is the same on every machine.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
