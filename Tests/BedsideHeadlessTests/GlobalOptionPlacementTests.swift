import BedsideApp
import Testing

@Suite("Global options before or after the subcommand")
struct GlobalOptionPlacementTests {
    let placement = GlobalOptionPlacement(
        valueOptions: ["--data-dir", "--lang"],
        commands: [.init("status"), .init("measure", [.init("add"), .init("list")])])

    @Test("leading global options move after the subcommand path; the rest stays in order", arguments: [
        (["--data-dir", "D", "status"], ["status", "--data-dir", "D"]),
        (["--data-dir=D", "--lang", "nl", "measure", "list", "--json"], ["measure", "list", "--data-dir=D", "--lang", "nl", "--json"]),
        (["--data-dir", "D", "measure", "add", "weight", "80", "--", "-1"], ["measure", "add", "--data-dir", "D", "weight", "80", "--", "-1"]),
        (["status", "--data-dir", "D"], ["status", "--data-dir", "D"]),
        (["--data-dir", "D"], ["--data-dir", "D"]),
        (["--data-dir", "D", "--kiosk"], ["--data-dir", "D", "--kiosk"]),
        (["--data-dir"], ["--data-dir"]),
        (["--data-dir", "D", "nonsense"], ["--data-dir", "D", "nonsense"]),
        (["--version"], ["--version"]),
    ])
    func reorders(_ given: [String], _ expected: [String]) {
        #expect(placement.reordered(given) == expected)
    }
}
