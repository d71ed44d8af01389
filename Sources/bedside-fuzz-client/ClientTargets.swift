import BedsideApp
import BedsideFuzzSupport
import BedsideHeadless

/// The targets over the client runtime's readers (they need BedsideApp and BedsideHeadless, so the
/// server stack stays out and Core's targets stay out of this heavier build).
let clientTargets: [FuzzTarget] = [
    FuzzTarget("config", summary: "config.toml (TOMLKit, strict keys, the ranges ConfigFile checks)", maximumLength: 4096) { bytes in
        _ = try? ConfigFile.parse(String(decoding: bytes, as: UTF8.self), source: "config.toml")
    },
    FuzzTarget("script", summary: "headless script language (tokenizer, commands, durations, sizes)", maximumLength: 4096) { bytes in
        guard let script = try? ScriptParser.parse(String(decoding: bytes, as: UTF8.self), name: "fuzz") else { return }
        // Every step must name a line of the text it came from.
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).count
        for step in script.steps { FuzzTarget.require((1...lines).contains(step.line), "step on line \(step.line) of \(lines)") }
    },
]
