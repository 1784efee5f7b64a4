import Testing
@testable import SkiffConstraint
