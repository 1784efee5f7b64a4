import Foundation
import Testing
@testable import SkiffImage

struct DecodeManifest: Decodable {
    struct Entry: Decodable, CustomTestStringConvertible, Sendable {
        var file: String
        var width: Int
        var height: Int
        var layout: String
        var expected_dpi: [Double]?
        var pixels: String
        var note: String
        var testDescription: String { file }
    }
    var entries: [Entry]
}

struct MalformedManifest: Decodable {
    struct Entry: Decodable, CustomTestStringConvertible, Sendable {
        var file: String
        var expect: String
        var note: String
        var actual: String?
        var testDescription: String { file }
    }
    var entries: [Entry]
}

let decodeEntries = (try? Fixtures.json(DecodeManifest.self, "decode", "manifest.json").entries) ?? []
let malformedEntries = (try? Fixtures.json(MalformedManifest.self, "malformed", "manifest.json").entries) ?? []

@Suite("Decoding PNG and JPEG against Pillow's reference decodes")
struct DecodingTests {
    @Test func fixturesArePresent() {
        #expect(decodeEntries.count >= 60)
        #expect(malformedEntries.count >= 20)
    }

    @Test("pixels equal the reference exactly", arguments: decodeEntries)
    func decodesExactly(_ entry: DecodeManifest.Entry) throws {
        let document = try DocumentLoader().load(contentsOf: Fixtures.url("decode", entry.file))
        let image = try #require(document.pages.first).image
        #expect(document.pages.count == 1)
        #expect(image.width == entry.width)
        #expect(image.height == entry.height)
        #expect(image.layout.rawValue == entry.layout)
        let expected = [UInt8](try Fixtures.data("decode", entry.pixels))
        #expect(image.pixels.count == expected.count)
        if image.pixels != expected {
            let differing = zip(image.pixels, expected).filter { $0 != $1 }.count
            let maxDiff = zip(image.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
            Issue.record("\(entry.file): \(differing) samples differ, max |diff| \(maxDiff) (\(entry.note))")
        }
        if let dpi = entry.expected_dpi {
            let resolution = try #require(image.resolution, "\(entry.file) should report \(dpi) dpi")
            #expect(abs(resolution.x - dpi[0]) < 1e-6 && abs(resolution.y - dpi[1]) < 1e-6)
        } else {
            #expect(image.resolution == nil)
        }
    }

    @Test("malformed files give a typed error naming the file", arguments: malformedEntries)
    func rejectsMalformed(_ entry: MalformedManifest.Entry) throws {
        let url = Fixtures.url("malformed", entry.file)
        let before = try Data(contentsOf: url)
        do {
            let document = try DocumentLoader().load(contentsOf: url)
            Issue.record("\(entry.file) decoded to \(document.pages[0].image.width)x\(document.pages[0].image.height); expected \(entry.expect)")
        } catch {
            #expect(error.file == url.path)
            #expect(error.description.hasPrefix(url.path + ": "))
            switch (entry.expect, error.reason) {
            case ("empty", .empty), ("truncated", .truncated), ("corrupt", .corrupt),
                 ("tooLarge", .tooLarge), ("unrecognized", .unrecognizedFormat):
                break
            case ("mislabelled", .mislabelled(_, let actual)):
                #expect(actual.rawValue == entry.actual)
            default:
                Issue.record("\(entry.file): expected \(entry.expect), got \(error.reason): \(error)")
            }
        }
        // The input is never touched.
        #expect(try Data(contentsOf: url) == before)
    }

    @Test func bombIsRejectedBeforeAllocating() throws {
        let url = Fixtures.url("malformed", "bomb_100000x100000.png")
        #expect {
            try DocumentLoader().load(contentsOf: url)
        } throws: { error in
            guard let error = error as? ImageError, case .tooLarge(let w, let h, _) = error.reason else { return false }
            return w == 100_000 && h == 100_000
        }
    }

    @Test func pixelLimitIsConfigurable() throws {
        let url = Fixtures.url("decode", "rgb8.png")
        let small = DocumentLoader(options: DecodingOptions(maxPixels: 10))
        #expect(throws: ImageError.self) { try small.load(contentsOf: url) }
        _ = try DocumentLoader().load(contentsOf: url)
    }

    @Test func mislabelledFilesCanBeAllowed() throws {
        let url = Fixtures.url("malformed", "png_named.jpg")
        let lenient = DocumentLoader(options: DecodingOptions(allowsMislabelledFiles: true))
        let document = try lenient.load(contentsOf: url)
        #expect(document.format == .png)
        #expect(document.pages[0].image.width == 32)
    }

    @Test func missingFileIsUnreadable() {
        let path = "/nonexistent/skiff/page.png"
        #expect {
            try DocumentLoader().load(contentsOf: URL(fileURLWithPath: path))
        } throws: { error in
            (error as? ImageError)?.reason == .unreadable && (error as? ImageError)?.file == path
        }
    }

    @Test func unsupportedFormatsAreNamed() throws {
        let tiff = Data([0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0, 0, 0])
        #expect {
            try DocumentLoader().load(tiff, label: "scan.tif", pathExtension: "tif")
        } throws: { error in
            (error as? ImageError)?.reason == .unsupportedFormat(.tiff)
        }
    }

    @Test func exifOrientationCanBeIgnored() throws {
        let url = Fixtures.url("decode", "jpeg_orient6.jpg")
        let raw = try DocumentLoader(options: DecodingOptions(appliesOrientation: false)).load(contentsOf: url)
        let upright = try DocumentLoader().load(contentsOf: url)
        #expect(raw.details.orientation == 6)
        #expect(raw.pages[0].image.width == upright.pages[0].image.height)
        #expect(raw.pages[0].image.oriented(exifOrientation: 6) == upright.pages[0].image)
    }

    @Test func pngRoundTrip() throws {
        for layout in PixelLayout.allCases {
            var pixels = [UInt8](repeating: 0, count: 5 * 3 * layout.channels)
            for i in pixels.indices { pixels[i] = UInt8((i * 37) & 0xFF) }
            let image = PixelBuffer(width: 5, height: 3, layout: layout, pixels: pixels, resolution: Resolution(dpi: 300))
            let decoded = try DocumentLoader().load(try image.pngData(), label: "roundtrip").pages[0].image
            #expect(decoded.pixels == image.pixels)
            #expect(decoded.layout == layout)
            #expect(abs((decoded.resolution?.x ?? 0) - 300) < 0.01)
        }
    }

    @Test func alphaIsCompositedOntoWhite() {
        let image = PixelBuffer(width: 2, height: 1, layout: .rgba, pixels: [0, 0, 0, 0, 10, 20, 30, 255])
        #expect(image.rgb().pixels == [255, 255, 255, 10, 20, 30])
        let gray = PixelBuffer(width: 1, height: 1, layout: .grayAlpha, pixels: [0, 128])
        #expect(gray.opaque().pixels == [127])
    }
}
