import Foundation
import Testing

/// The README is the front door: under 15 KB, and every link in it and in `docs/` leads to a file in
/// this repository (a user with only the checkout must be able to follow it).
@Suite("Documentation")
struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// The Markdown files a user reads.
    static var documents: [URL] {
        let docs = (try? FileManager.default.contentsOfDirectory(at: root.appendingPathComponent("docs"), includingPropertiesForKeys: nil)) ?? []
        return [root.appendingPathComponent("README.md"), root.appendingPathComponent("themes/README.md"),
            root.appendingPathComponent("Tests/Fuzz/README.md")] + docs.filter { $0.pathExtension == "md" }.sorted { $0.path < $1.path }
    }

    /// The targets of `[text](target)` links, without a `#fragment`.
    static func links(in text: String) -> [String] {
        var found: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "](") {
            rest = rest[open.upperBound...]
            guard let close = rest.firstIndex(of: ")") else { break }
            let target = String(rest[..<close]).split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            found.append(target)
            rest = rest[close...]
        }
        return found
    }

    @Test("the README is under 15 KB")
    func readmeSize() throws {
        let size = try #require(try FileManager.default.attributesOfItem(atPath: Self.root.appendingPathComponent("README.md").path)[.size] as? Int)
        #expect(size < 15 * 1024, "\(size) bytes")
    }

    @Test("every relative link leads to a file inside the repository; none leaves it")
    func links() throws {
        #expect(Self.documents.count >= 8)
        var checked = 0
        for document in Self.documents {
            let text = try String(contentsOf: document, encoding: .utf8)
            for target in Self.links(in: text) where !target.isEmpty && !target.contains("://") && !target.hasPrefix("mailto:") {
                let resolved = document.deletingLastPathComponent().appendingPathComponent(target).standardized
                #expect(resolved.path.hasPrefix(Self.root.path + "/"), "\(document.lastPathComponent) links outside the repository: \(target)")
                #expect(FileManager.default.fileExists(atPath: resolved.path), "\(document.lastPathComponent) links to a missing \(target)")
                checked += 1
            }
        }
        #expect(checked >= 10, "the README and docs link to each other")
    }

    @Test("links are found as Markdown writes them")
    func linkParsing() {
        #expect(Self.links(in: "see [a](docs/a.md#part) and [`b`](../b.md), not (c)") == ["docs/a.md", "../b.md"])
    }
}
