import BedsideCore
import Testing

@testable import BedsideUI

/// The home screen's export: format, a file name offered, the same writer as `bedside export`.
@Suite("Export screen")
struct ExportScreenTests {
    /// 15 Jan 2026, 09:30 UTC (10:30 in the patient's +01:00).
    static let now: Int64 = 1_768_469_400_000

    @Test("e on the home screen asks for format and file, offering ~/bedside-export-<today>.csv; ↑↓ switch the format and its ending")
    func opens() {
        var state = loggedInState(at: Self.now)
        #expect(render(state).text.contains("e  Export my data"), "the home menu offers it")
        step(&state, .key(.character("e"))) { expected in
            expected.lastInputAt = Self.now
            expected.message = nil
            expected.stack.append(.export(ExportForm(day: "2026-01-15")))
        }
        let screen = render(state).text
        #expect(screen.contains("Export my data"))
        #expect(screen.contains("(•) CSV (spreadsheet)") && screen.contains("( ) FHIR (JSON Bundle)"), "\(screen)")
        #expect(screen.contains("~/bedside-export-2026-01-15.csv"), "\(screen)")
        _ = press(&state, .down)
        guard case .export(let form) = state.screen else {
            Issue.record("left the export screen")
            return
        }
        #expect(form.format == .fhir && form.path.text == "~/bedside-export-2026-01-15.json")
        #expect(render(state).text.contains("(•) FHIR (JSON Bundle)"))
        _ = press(&state, .escape)
        #expect(state.screen == .home)
    }

    @Test("a name of the patient's own is kept when the format changes; Enter asks the runtime to write it and waits")
    func exports() {
        var state = loggedInState(at: Self.now)
        _ = press(&state, .character("e"), .control("u"))
        type(&state, "/tmp/mine.csv")
        _ = press(&state, .tab)
        guard case .export(let form) = state.screen else {
            Issue.record("left the export screen")
            return
        }
        #expect(form.format == .fhir && form.path.text == "/tmp/mine.csv", "the patient's own name stays")
        step(&state, .key(.enter), effects: [.export(format: .fhir, path: "/tmp/mine.csv")]) { expected in
            expected.message = nil
            expected.busy = .exportBusy
        }
        #expect(render(state).text.contains("Exporting…"))
        #expect(press(&state, .enter).isEmpty, "keys wait while it works")

        step(&state, .exported(path: "/tmp/mine.csv", count: 12)) { expected in
            expected.busy = nil
            expected.stack.removeLast()
            expected.message = StatusMessage(text: "Exported 12 measurements to /tmp/mine.csv (only you can read it).", isError: false)
        }
        #expect(render(state).text.contains("Exported 12 measurements to /tmp/mine.csv"))
    }

    @Test("a refusal (the file exists) stays on the export screen with the reason; an empty name is asked for")
    func refused() {
        var state = loggedInState(at: Self.now)
        _ = press(&state, .character("e"))
        _ = press(&state, .end, .control("u"))
        #expect(press(&state, .enter).isEmpty, "no name, no export")
        #expect(render(state).text.contains("Give the file a name."))
        type(&state, "~/x.csv")
        #expect(press(&state, .enter) == [.export(format: .csv, path: "~/x.csv")])
        _ = reduce(&state, .exportFailed("/home/ann/x.csv already exists; choose another name (an export never replaces a file)."))
        guard case .export = state.screen else {
            Issue.record("left the export screen")
            return
        }
        #expect(state.busy == nil)
        #expect(render(state).text.contains("already exists"))
    }

    @Test("in Dutch and German too")
    func languages() {
        for (language, title) in [(Language.nl, "Mijn gegevens exporteren"), (.de, "Meine Daten exportieren")] {
            var state = loggedInState(at: Self.now)
            state.language = language
            _ = press(&state, .character("e"))
            #expect(render(state).text.contains(title), "\(language)")
        }
    }
}
