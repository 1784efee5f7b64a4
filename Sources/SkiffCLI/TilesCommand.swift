import ArgumentParser
import Foundation
import Skiff

struct TilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tiles",
        abstract: "Show how a page is cut into 448x448 tiles for an InternVL2 / H2OVL vision encoder.")

    @Argument(help: "A PNG or JPEG page.")
    var image: String

    @Option(help: "Fewest tiles in the grid.")
    var min: Int = 1

    @Option(help: "Most tiles in the grid (Mississippi: 6, InternVL2 cards: 12).")
    var max: Int = 12

    @Flag(help: "H2OVL multi-scale adaptive cropping (a second grid of 3...max tiles).")
    var msac = false

    @Option(help: "Tile side in pixels.")
    var tileSize: Int = 448

    @Flag(help: "Print {\"grids\": [[cols, rows], ...], \"tiles\": N}.")
    var json = false

    @Option(help: "Write the tiles as PNG files into this folder.")
    var out: String?

    func validate() throws {
        guard min >= 1, max >= min else { throw ValidationError("need 1 <= --min <= --max") }
        guard tileSize >= 1 else { throw ValidationError("--tile-size must be positive") }
    }

    func run() throws {
        let document: Document
        do {
            document = try DocumentLoader().load(contentsOf: URL(fileURLWithPath: image))
        } catch {
            printError("skiff: \(error)")
            throw ExitCode(1)
        }
        let tiler = Tiler(configuration: TilingConfiguration(tileSize: tileSize, minTiles: min, maxTiles: max,
                                                             usesMultiScale: msac))
        for page in document.pages {
            let plan = tiler.plan(for: page.image)
            if json {
                let grids = plan.grids.map { "[\($0.columns), \($0.rows)]" }.joined(separator: ", ")
                print("{\"grids\": [\(grids)], \"tiles\": \(plan.tileCount)}")
            } else {
                let grids = plan.grids.map { "\($0) (\($0.tileCount) tiles)" }.joined(separator: " + ")
                print("\(image): \(page.image.width)x\(page.image.height) -> \(grids)\(plan.hasThumbnail ? " + thumbnail" : "") = \(plan.tileCount) tiles")
            }
            guard let out else { continue }
            let folder = URL(fileURLWithPath: out)
            let stem = URL(fileURLWithPath: image).deletingPathExtension().lastPathComponent
            for (n, tile) in tiler.tiles(of: page.image).enumerated() {
                let name: String
                switch tile.origin {
                case .grid(let grid, let column, let row):
                    name = String(format: "%@-p%d-%02d-g%d-c%d-r%d.png", stem, page.index, n, grid, column, row)
                case .thumbnail:
                    name = String(format: "%@-p%d-%02d-thumbnail.png", stem, page.index, n)
                }
                do {
                    try AtomicFile.write(try tile.image.pngData(), to: folder.appendingPathComponent(name))
                } catch {
                    printError("skiff: cannot write \(name): \(error)")
                    throw ExitCode(1)
                }
            }
        }
    }
}
