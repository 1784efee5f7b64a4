import Foundation
@testable import SkiffScoring
import Testing

func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-score-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("readers")
struct ReaderTests {
    static var hasSROIE: Bool { FileManager.default.fileExists(atPath: sroieDev.appendingPathComponent("box/004.csv").path) }

    /// Real SROIE rows: CRLF line ends, commas inside the transcript, row count as in the manifest.
    @Test(.enabled(if: hasSROIE)) func sroieBoxCSV() throws {
        let (text, format) = try DocumentReader().text(at: sroieDev.appendingPathComponent("box/004.csv"))
        #expect(format == .sroieCSV)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 61)  // manifest.jsonl: box_lines 61
        #expect(lines.contains("LOT 1851-A & 1851-B, JALAN KPB 6,"))
        #expect(!text.contains("\r"))
        #expect(lines[0].hasPrefix("MR D.I.Y.") || lines.contains { $0.hasPrefix("MR D.I.Y.") })
    }

    @Test(.enabled(if: hasSROIE)) func everyDevCSVReads() throws {
        let files = try FolderScorer.files(in: sroieDev.appendingPathComponent("box"), extensions: ["csv"])
        #expect(files.count == 60)
        for url in files.values { #expect(try !DocumentReader().text(at: url).text.isEmpty) }
    }

    @Test func malformedCSVNamesTheLine() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bad.csv")
        try Data("1,2,3,4,5,6,7,8,OK\n1,2,x,4,5,6,7,8,BAD\n".utf8).write(to: url)
        #expect(throws: ScoringError.malformed(path: url.path, location: "2", reason: "coordinate 3 'x' is not a whole number")) {
            try DocumentReader().text(at: url)
        }
        try Data("1,2,3,TEXT\n".utf8).write(to: url)
        #expect(throws: ScoringError.malformed(path: url.path, location: "1", reason: "expected 8 coordinates and the text, found 3 commas")) {
            try DocumentReader().text(at: url)
        }
    }

    @Test func notUTF8AndMissingFiles() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("latin1.txt")
        try Data([0x54, 0x6F, 0x74, 0x61, 0x6C, 0xA3]).write(to: url)
        #expect(throws: ScoringError.notUTF8(path: url.path)) { try DocumentReader().text(at: url) }
        let missing = folder.appendingPathComponent("nope.txt")
        #expect(throws: ScoringError.unreadable(path: missing.path, reason: "no such file")) { try DocumentReader().text(at: missing) }
        let json = folder.appendingPathComponent("x.json")
        try Data("{\"pages\": [{\"page\": 1}]}".utf8).write(to: json)
        #expect(throws: ScoringError.self) { try DocumentReader().text(at: json) }
    }

    struct Expected: Decodable { var alto: String; var page: String }

    /// Tesseract's ALTO and an OCR-D PAGE file, read as dinglehopper reads them.
    @Test func altoAndPageMatchDinglehopper() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Fixture.url("xml-expected.json")))
        let (alto, altoFormat) = try DocumentReader().text(at: Fixture.url("phototest.alto.xml"))
        #expect(altoFormat == .alto)
        #expect(alto == expected.alto)
        let (page, pageFormat) = try DocumentReader().text(at: Fixture.url("phototest.page.xml"))
        #expect(pageFormat == .page)
        #expect(page == expected.page)
        #expect(!page.contains("must be ignored"))
    }

    @Test func brokenXMLSaysWhere() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("broken.xml")
        try Data("<alto><Layout><TextLine><String CONTENT=\"a\"></TextLine></alto>".utf8).write(to: url)
        #expect {
            try DocumentReader().text(at: url)
        } throws: { error in
            guard case .malformed(let path, _, let reason)? = error as? ScoringError else { return false }
            return path == url.path && reason.hasPrefix("invalid XML")
        }
    }

    final class Events: XMLScanner.Handler {
        var log: [String] = []
        func start(_ name: String, attributes: [String: String]) {
            log.append("<" + name + attributes.keys.sorted().map { " \($0)=\(attributes[$0] ?? "")" }.joined() + ">")
        }
        func characters(_ text: String) { log.append(text) }
        func end(_ name: String) { log.append("</" + name + ">") }
    }

    static func events(_ xml: String) throws -> [String] {
        let events = Events()
        var scanner = XMLScanner(Array(xml.utf8))
        try scanner.parse(events)
        return events.log.filter { !$0.allSatisfy(\.isWhitespace) }
    }

    /// The events XMLParser (libxml2, namespaces processed) gave the extractor, up to how text is chunked.
    @Test func xmlScannerReportsWhatXMLParserDid() throws {
        let xml = """
            \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE alto [ <!ELEMENT alto ANY> ]>
            <!-- a comment <String CONTENT="no"/> -->
            <a:alto xmlns:a="http://example.org/alto" xmlns="urn:x"><a:TextLine ID='l1'>
            <String CONTENT="Fish &amp; Chips &lt;&#x41;&#66;&gt; &quot;x&apos;"/><String CONTENT="two
            lines	and tab"/>text&#10;&amp;more<![CDATA[<ignored>]]>\r\nend<?pi skipped?></a:TextLine></a:alto>
            """
        #expect(try Self.events(xml) == [
            "<alto>", "<TextLine ID=l1>", "<String CONTENT=Fish & Chips <AB> \"x'>", "</String>",
            "<String CONTENT=two lines and tab>", "</String>", "text\n&more", "\nend", "</TextLine>", "</alto>",
        ])
    }

    @Test(arguments: [
        "<alto><TextLine></alto>", "<alto>", "no markup", "<alto a=b/>", "<alto a=\"1\"b=\"2\"/>",
        "<alto>&nbsp;</alto>", "<alto/><second/>", "<alto><!-- open </alto>", "", "<alto>&#0;</alto>",
    ])
    func xmlScannerRejectsMalformedInput(_ xml: String) {
        #expect(throws: XMLScanner.Failure.self) { try Self.events(xml) }
    }

    @Test func pageRegionsFollowTheReadingOrder() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("p.xml")
        let xml = """
            <?xml version="1.0"?>
            <pc:PcGts xmlns:pc="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"><pc:Page>
            <pc:ReadingOrder><pc:OrderedGroup id="g"><pc:RegionRefIndexed index="1" regionRef="r1"/>
            <pc:RegionRefIndexed index="0" regionRef="r2"/></pc:OrderedGroup></pc:ReadingOrder>
            <pc:TextRegion id="r1"><pc:TextEquiv><pc:Unicode>first &amp; one</pc:Unicode></pc:TextEquiv></pc:TextRegion>
            <pc:TextRegion id="r2"><pc:TextEquiv conf="0.2"><pc:Unicode>low</pc:Unicode></pc:TextEquiv>
            <pc:TextEquiv conf="0.9"><pc:Unicode>high
            line</pc:Unicode></pc:TextEquiv></pc:TextRegion>
            </pc:Page></pc:PcGts>
            """
        try Data(xml.utf8).write(to: url)
        let (text, format) = try DocumentReader().text(at: url)
        #expect(format == .page)
        #expect(text == "high\nline\nfirst & one")
    }

    @Test func folderMatchingByStemListsMissingAndExtra() throws {
        let gt = try temporaryFolder()
        let out = try temporaryFolder()
        defer {
            try? FileManager.default.removeItem(at: gt)
            try? FileManager.default.removeItem(at: out)
        }
        try Data("HELLO WORLD".utf8).write(to: gt.appendingPathComponent("a.txt"))
        try Data("GOOD BYE".utf8).write(to: gt.appendingPathComponent("b.txt"))
        try Data("HELLO W0RLD".utf8).write(to: out.appendingPathComponent("a.jpg.txt"))
        try Data("EXTRA".utf8).write(to: out.appendingPathComponent("c.txt"))
        try Data("not scored".utf8).write(to: gt.appendingPathComponent("README.md"))
        let result = try FolderScorer(scorer: TextScorer()).score(groundTruth: gt, output: out, keepingAlignments: false)
        #expect(result.documents.map(\.name) == ["a", "b"])
        #expect(result.missing == ["b"] && result.extra == ["c"])
        // Missing output: all deletions. Micro: (1 + 8) / (11 + 8); macro: mean of 1/11 and 1.
        #expect(result.documents[1].score.characters.deletions == 8)
        #expect(result.microCharacters.rate == 9.0 / 19.0)
        #expect(abs(result.macroCER - (1.0 / 11.0 + 1.0) / 2) < 1e-12)
    }

    @Test func duplicateStemsAreRefused() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("x".utf8).write(to: folder.appendingPathComponent("a.txt"))
        try Data("y".utf8).write(to: folder.appendingPathComponent("a.csv"))
        #expect(throws: ScoringError.self) { try FolderScorer.files(in: folder, extensions: ["txt", "csv"]) }
    }
}
