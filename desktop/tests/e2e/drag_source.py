#!/usr/bin/python3
"""A tiny GTK 3 window that offers the files named on the command line as a drag
(text/uri-list), like a file manager would. The end-to-end test drags from it onto the
ImageVault window with real pointer events (xdotool), so the drop goes through the X
server's drag-and-drop protocol and reaches Tauri's drag-drop event, exactly as a
person's drop from a file manager does.

Usage: drag_source.py X Y FILE...   (prints "ready" once the window is shown)
"""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

x, y = int(sys.argv[1]), int(sys.argv[2])
uris = [GLib.filename_to_uri(path, None) for path in sys.argv[3:]]

window = Gtk.Window(title="imagevault-drag-source")
window.set_default_size(140, 100)
window.move(x, y)
button = Gtk.Button(label=f"{len(uris)} files")
button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
button.drag_source_add_uri_targets()
button.connect("drag-data-get", lambda _w, _c, data, _i, _t: data.set_uris(uris))
button.connect("drag-end", lambda *_: print("drag-end", flush=True))
window.add(button)
window.connect("destroy", Gtk.main_quit)
window.connect("map-event", lambda *_: print("ready", flush=True))
window.show_all()
Gtk.main()
