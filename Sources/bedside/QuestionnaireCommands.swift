import ArgumentParser
import BedsideCore
import BedsideUI
import Foundation

/// `bedside questionnaire`: tools for form authors and testers. Offline; no login.
struct QuestionnaireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "questionnaire", abstract: "Check and try out FHIR R4 Questionnaires, offline and without logging in.",
        subcommands: [QuestionnairePreviewCommand.self, QuestionnaireFillCommand.self])
}

/// Reads a JSON file, or says clearly why it cannot.
func readJSON(_ path: String) throws -> JSONValue {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("Cannot read \(path).") }
    do {
        return try JSONParser.parse(Array(data))
    } catch {
        throw ValidationError("\(path) is not valid JSON: \(error)")
    }
}

/// Reads a Questionnaire file, or says clearly why it cannot.
func readQuestionnaire(_ path: String) throws -> Questionnaire {
    let json = try readJSON(path)
    do {
        return try Questionnaire(json: json)
    } catch {
        throw ValidationError("\(path): \(error.description)")
    }
}

struct QuestionnaireFillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill",
        abstract: "Print the QuestionnaireResponse for a set of answers, with enableWhen applied.",
        discussion: """
            ANSWERS is a JSON object mapping a linkId to a value: a code for choice items, a number, a string, an ISO date, \
            true/false, or a list of values for a repeating item. A repeating group takes a list of such objects, one per \
            repetition. Required questions left unanswered and answers outside the form's rules are reported on stderr \
            and make the response 'in-progress' (exit 1). An answer that does not fit its item is an error (exit 2).
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The Questionnaire (FHIR R4 JSON).", completion: .file())
    var file: String

    @Option(help: "The answers (JSON).", completion: .file())
    var answers: String

    func run() async throws {
        let questionnaire = try readQuestionnaire(file)
        let sheet = try readJSON(answers)
        let fill: QuestionnaireFill
        do {
            fill = try QuestionnaireFill(questionnaire, answers: sheet, now: SystemClock().now())
        } catch {
            throw ValidationError(error.description)
        }
        for problem in questionnaire.problems() { complain("warning: \(problem.message)") }
        for problem in fill.calculationProblems { complain("warning: \(problem)") }
        for problem in fill.problems { complain(problem.message) }
        sayJSON(fill.response())
        if !fill.problems.isEmpty { throw Exit.failure }
    }
}

struct QuestionnairePreviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Print every page of a questionnaire as the patient would see it, as plain text.",
        discussion: """
            What Bedside cannot render faithfully (an attachment item, a value set it cannot resolve) is a warning on \
            stderr. The exit code is 1 only when the form cannot be answered as intended, naming the feature. --lang picks \
            the screen's language and, where the form has translations, the form's.
            """)

    @OptionGroup var options: GlobalOptions

    @Argument(help: "The Questionnaire (FHIR R4 JSON).", completion: .file())
    var file: String

    @Option(help: "The screen size, WIDTHxHEIGHT.")
    var size = "80x24"

    func run() async throws {
        let configuration = try options.resolve()
        let dimensions = size.split(separator: "x").compactMap { Int($0) }
        guard dimensions.count == 2, dimensions[0] >= 40, dimensions[1] >= 12 else { throw ValidationError("--size is WIDTHxHEIGHT, at least 40x12.") }
        let questionnaire = try readQuestionnaire(file)
        let pages = previewPages(
            questionnaire, width: dimensions[0], height: dimensions[1], language: configuration.language,
            formLanguage: options.lang ?? questionnaire.language, now: SystemClock().now())
        for (index, page) in pages.enumerated() {
            say("── page \(index + 1) of \(pages.count) " + String(repeating: "─", count: max(0, dimensions[0] - 20)))
            say(page)
        }
        let problems = questionnaire.problems()
        for problem in problems { complain("\(problem.blocksAnswering ? "error" : "warning"): \(problem.message)") }
        if let blocking = problems.first(where: \.blocksAnswering) {
            complain("This form cannot be answered as intended: it needs \(blocking.feature).")
            throw Exit.failure
        }
    }
}
