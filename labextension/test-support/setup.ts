/** jsdom lacks DragEvent, which @lumino/dragdrop (pulled in by @lumino/widgets) subclasses at import time. */
const scope = globalThis as { DragEvent?: unknown; MouseEvent?: typeof MouseEvent };
if (scope.MouseEvent && !scope.DragEvent) {
  scope.DragEvent = class DragEvent extends scope.MouseEvent {};
}
