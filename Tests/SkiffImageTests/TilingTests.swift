import Foundation
import Testing
@testable import SkiffImage

struct GridCases: Decodable {
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var width: Int
        var height: Int
        var min: Int
        var max: Int
        var msac: Bool
        var grids: [[Int]]
        var tiles: Int
        var testDescription: String { "\(width)x\(height) min \(min) max \(max)\(msac ? " msac" : "")" }
    }
    var image_size: Int
    var cases: [Case]
}

struct CandidateOrders: Decodable {
    struct Set: Decodable {
        var min: Int
        var max: Int
        var order: [[Int]]
    }
    var sets: [Set]
}

struct ResizeManifest: Decodable {
    struct Source: Decodable, Sendable {
        var file: String
        var width: Int
        var height: Int
        var layout: String
    }
    struct Normalized: Decodable, Sendable {
        var file: String
    }
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var source: Source
        var target: [Int]
        var layout: String
        var expected: String
        var normalized: Normalized?
        var testDescription: String { expected }
    }
    var cases: [Case]
}

@Suite("Tiling as InternVL2 / H2OVL-Mississippi do it")
struct TilingTests {
    static let table = try? Fixtures.json(GridCases.self, "tiling", "grids.json")

    @Test func referenceTableIsLarge() throws {
        let table = try #require(Self.table)
        #expect(table.cases.count >= 200)
        #expect(table.cases.contains { $0.msac })
    }

    @Test("grids equal the Python reference for every case in the table")
    func gridsMatchReference() throws {
        let table = try #require(Self.table)
        var mismatches: [String] = []
        for c in table.cases {
            let configuration = TilingConfiguration(tileSize: table.image_size, minTiles: c.min, maxTiles: c.max,
                                                    usesMultiScale: c.msac)
            let plan = TilePlanner.plan(width: c.width, height: c.height, configuration: configuration)
            let grids = plan.grids.map { [$0.columns, $0.rows] }
            if grids != c.grids || plan.tileCount != c.tiles {
                mismatches.append("\(c.testDescription): got \(grids) / \(plan.tileCount) tiles, reference \(c.grids) / \(c.tiles)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(table.cases.count): \(mismatches.prefix(10).joined(separator: "; "))")
    }

    @Test("candidate order reproduces sorted(set(...)) of CPython")
    func candidateOrderMatchesPython() throws {
        let orders = try Fixtures.json(CandidateOrders.self, "tiling", "candidates.json")
        #expect(orders.sets.count >= 70)
        for set in orders.sets {
            let ours = TilePlanner.candidates(minTiles: set.min, maxTiles: set.max).map { [$0.columns, $0.rows] }
            #expect(ours == set.order, "min \(set.min) max \(set.max)")
        }
    }

    @Test func tilerCutsRowMajorWithThumbnailLast() throws {
        // A 2:1 page becomes a 2x1 grid plus a thumbnail under InternVL2 settings.
        var pixels = [UInt8](repeating: 0, count: 200 * 100 * 3)
        for i in 0..<(200 * 100) { pixels[3 * i] = i % 200 < 100 ? 0 : 255 }
        let page = PixelBuffer(width: 200, height: 100, layout: .rgb, pixels: pixels)
        let tiles = Tiler(configuration: .internVL2).tiles(of: page)
        #expect(tiles.count == 3)
        #expect(tiles.map(\.origin) == [.grid(grid: 0, column: 0, row: 0), .grid(grid: 0, column: 1, row: 0), .thumbnail])
        #expect(tiles.allSatisfy { $0.image.width == 448 && $0.image.height == 448 })
        // Left tile comes from the dark half, right tile from the red half.
        #expect(tiles[0].image[224, 224].first == 0)
        #expect(tiles[1].image[224, 224].first == 255)
    }

    @Test func msacTilesFollowThePlan() throws {
        let page = PixelBuffer(width: 2480, height: 3508, layout: .gray, filledWith: 200)
        let tiler = Tiler(configuration: .mississippi2B)
        let plan = tiler.plan(for: page)
        #expect(plan.grids == [TileGrid(columns: 3, rows: 2), TileGrid(columns: 2, rows: 3)])
        #expect(plan.tileCount == 13)
        let tiles = tiler.tiles(of: page)
        #expect(tiles.count == 13)
        #expect(tiles.last?.origin == .thumbnail)
        #expect(tiles.allSatisfy { $0.image.layout == .rgb })
    }
}

@Suite("Bicubic resize and normalisation against Pillow / torchvision")
struct ResizeTests {
    static let manifest = try? Fixtures.json(ResizeManifest.self, "resize", "manifest.json")

    @Test("resized pixels equal Pillow's exactly (tolerance 0)", arguments: manifest?.cases ?? [])
    func resizeMatchesPillow(_ c: ResizeManifest.Case) throws {
        let layout = try #require(PixelLayout(rawValue: c.source.layout))
        let source = PixelBuffer(width: c.source.width, height: c.source.height, layout: layout,
                                 pixels: [UInt8](try Fixtures.data("resize", c.source.file)))
        let resized = BicubicResampler.resize(source, width: c.target[0], height: c.target[1])
        let expected = [UInt8](try Fixtures.data("resize", c.expected))
        #expect(resized.width == c.target[0] && resized.height == c.target[1])
        let maxDiff = zip(resized.pixels, expected).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(resized.pixels.count == expected.count)
        #expect(maxDiff == 0, "max |diff| \(maxDiff)")

        if let normalized = c.normalized {
            let data = try Fixtures.data("resize", normalized.file)
            let reference: [Float] = data.withUnsafeBytes { raw in
                (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            let ours = PixelNormalization.imageNet.tensor(from: resized)
            #expect(ours.count == reference.count)
            let worst = zip(ours, reference).map { abs($0 - $1) }.max() ?? 0
            #expect(worst == 0, "max |diff| \(worst)")
        }
    }
}
