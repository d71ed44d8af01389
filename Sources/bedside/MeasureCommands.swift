import ArgumentParser
import BedsideApp
import BedsideCore
import BedsideUI
import Foundation

extension MeasurementKind: ExpressibleByArgument {}

struct MeasureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure", abstract: "Record and list measurements.", subcommands: [AddMeasurement.self, ListMeasurements.self])
}

struct AddMeasurement: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Record a measurement (saved encrypted here, sent at the next sync).",
        discussion: """
            KIND is blood-pressure, weight, heart-rate, oxygen-saturation, temperature, respiratory-rate or glucose.
            VALUE: 135/85 or 135/85/72 (with pulse) for blood pressure; 82.4 or 82,4 for the others.
            Units: mmHg, kg, /min, %, °C, /min, and mmol/L for glucose (--unit mg/dL to change).
            An unusual (but possible) value needs --yes; an impossible one is refused.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "What was measured.")
    var kind: MeasurementKind

    @Argument(help: "The value, e.g. 82.4 or 135/85.")
    var value: String

    @Option(help: "When: \"YYYY-MM-DD HH:MM\" in local time (default: now).")
    var at: String?

    @Option(help: "A note for your care team.")
    var note: String?

    @Option(help: "Glucose unit: mmol/L or mg/dL.")
    var unit: String?

    @Flag(help: "Save an unusual value without asking.")
    var yes = false

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    func run() async throws {
        let configuration = try options.resolve()
        let t = Localizer(configuration.language)
        let clock = SystemClock()
        let glucose: MeasurementPart
        switch unit {
        case nil: glucose = configuration.glucoseUnit
        case "mmol/L": glucose = .glucoseMolar
        case "mg/dL": glucose = .glucoseMass
        default: throw ValidationError("--unit must be mmol/L or mg/dL.")
        }
        // The same form and checks as the terminal app, filled from the arguments.
        var form = MeasurementForm(kind: kind, glucosePart: glucose, now: clock.now(), zone: .current)
        let parts = value.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let valueFields = form.ids.indices.filter { if case .value = form.ids[$0] { return true } else { return false } }
        guard parts.count <= valueFields.count, parts.count >= (kind == .bloodPressure ? 2 : 1) else {
            throw ValidationError(kind == .bloodPressure ? "Write blood pressure as 135/85 or 135/85/72." : "Write one value, e.g. 82.4.")
        }
        for (index, text) in parts.enumerated() { form.fields[valueFields[index]].text = text }
        if let at { form.fields[form.ids.firstIndex(of: .time) ?? 0].text = at }
        if let note { form.fields[form.fields.count - 1].text = note }
        var generator = SystemRandomNumberGenerator()
        var ids = IDGenerator(seed: generator.next())
        switch form.validate(language: configuration.language, now: clock.now(), newID: ids.uuid()) {
        case .invalid:
            for field in form.fields { if let error = field.error { complain(error) } }
            throw Exit.failure
        case .valid(let record, let unusual):
            if !unusual.isEmpty && !yes {
                for item in unusual {
                    let language = configuration.language
                    complain(t.text(
                        .cliUnusual, "\(language.number(item.literal)) \(item.part.displayUnit)",
                        language.number(MeasurementForm.format(item.part.typicalRange.lowerBound)),
                        "\(language.number(MeasurementForm.format(item.part.typicalRange.upperBound))) \(item.part.displayUnit)"))
                }
                throw Exit.failure
            }
            let core = try await unlockedCore(options, passwordStdin: passwordStdin)
            do {
                try await core.add(record)
            } catch {
                complain(t.text(.cliNotSaved, "\(error)"))
                await core.lock()
                throw Exit.failure
            }
            await core.lock()
            say(t.text(.cliSaved, t.kindName(kind), value, record.effectiveText))
        }
    }
}

struct ListMeasurements: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List measurements, newest first.")

    @OptionGroup var options: GlobalOptions

    @Option(help: "Only this kind.")
    var kind: MeasurementKind?

    @Option(help: "At most this many.")
    var limit = 50

    @Flag(help: "Print JSON (one array).")
    var json = false

    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false

    func run() async throws {
        let core = try await unlockedCore(options, passwordStdin: passwordStdin)
        let records = try await core.measurements(kind: kind, limit: max(1, limit))
        await core.lock()
        if json {
            let items: [JSONValue] = records.map { record in
                var object: JSONObject = [
                    "id": .string(record.id), "kind": .string(record.kind.rawValue), "time": .string(record.effectiveText),
                    "values": .array(record.values.map { ["code": .string($0.part.loincCode), "unit": .string($0.part.ucumCode), "value": .number($0.literal)] }),
                    "state": .string(PatientDataExport.stateName(record.syncState)),
                ]
                if let note = record.note { object["note"] = .string(note) }
                return .object(object)
            }
            sayJSON(JSONValue.array(items))
            return
        }
        let language = try options.resolve().language
        let t = Localizer(language)
        for record in records {
            let value = t.value(of: record)
            let state = t.label(of: record.syncState)
            let time = language.dateTime(epochMilliseconds: record.effectiveAt, utcOffsetSeconds: record.utcOffsetSeconds)
            let line = "\(time)  \(record.kind.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)) \(value.padding(toLength: 26, withPad: " ", startingAt: 0)) \(state)"
            // Notes are shown inert: control characters become visible symbols, never terminal commands.
            say(line + (record.note.map { "  " + $0 } ?? ""))
        }
    }
}
