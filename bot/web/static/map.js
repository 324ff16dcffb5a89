/* SiKesal dashboard maps (Leaflet, vendored in ./leaflet). No inline script: every setting comes from the
 * map element's data- attributes (see templates/map.html and templates/_complaint_map.html).
 *
 * Citizen text (descriptions) is only ever put in the page with textContent (never parsed as HTML).
 * With no tile server reachable the tile layer just shows nothing: the kecamatan polygons and the pins
 * are vector layers and are drawn anyway; each step is guarded so one failure never stops the rest. */
(function () {
  "use strict";

  // open complaints per kecamatan: lower bounds of the shading classes, and their fill colours
  var BREAKS = [0, 1, 3, 6, 11, 21];
  var SHADES = ["#f7f7f7", "#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];

  function shadeOf(count) {
    var i = BREAKS.length - 1;
    while (i > 0 && count < BREAKS[i]) { i -= 1; }
    return SHADES[i];
  }

  function readJSON(el, name, fallback) {
    var raw = el.getAttribute(name);
    if (!raw) { return fallback; }
    try { return JSON.parse(raw); } catch (e) { return fallback; }
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function baseMap(el) {
    var maxZoom = parseInt(el.getAttribute("data-max-zoom"), 10) || 19;
    var map = L.map(el, { maxZoom: maxZoom });
    try {
      var tiles = L.tileLayer(el.getAttribute("data-tile-url") || "", {
        maxZoom: maxZoom,
        attribution: el.getAttribute("data-attribution") || "",
        // the page itself sends no Referer elsewhere (Referrer-Policy: same-origin); tile servers such as
        // OpenStreetMap's ask for one (usage policy), so tiles carry the site's origin, never the page's path
        referrerPolicy: "strict-origin"
      });
      // offline or blocked tiles: nothing to do, the vector layers stay; never let it bubble up
      tiles.on("tileerror", function () { el.classList.add("tiles-unavailable"); });
      tiles.addTo(map);
    } catch (e) {
      el.classList.add("tiles-unavailable");
    }
    return { map: map, maxZoom: maxZoom };
  }

  function note(text) {
    var target = document.getElementById("map-note");
    if (target) { target.textContent = text || ""; }
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
  }

  function popupFor(props, words) {
    var box = make("div", "map-popup");
    var title = make("strong");
    var link = make("a", null, props.number);
    link.href = "/dashboard/complaints/" + encodeURIComponent(props.number);
    title.appendChild(link);
    box.appendChild(title);
    var list = make("dl");
    [
      [words.category, props.category_label],
      [words.status, props.status_label],
      [words.agency, props.agency_label],
      [words.kecamatan, props.kecamatan || "–"],
      [words.created, props.created_label || props.created]
    ].forEach(function (row) {
      list.appendChild(make("dt", null, row[0]));
      list.appendChild(make("dd", null, row[1]));
    });
    box.appendChild(list);
    if (props.description === null || props.description === undefined) {
      box.appendChild(make("p", "desc confidential", words.confidential));
    } else {
      box.appendChild(make("p", "desc", props.description));
    }
    return box;
  }

  // a legend is a <details>: open on a wide screen, one tap away on a phone (where it would hide the map)
  function legend(map, title, build) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var box = make("details", "map-legend");
      box.open = window.innerWidth > 640;
      box.appendChild(make("summary", null, title));
      build(box);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(map);
  }

  function swatch(colour, dot) {
    var s = make("span", dot ? "swatch dot" : "swatch");
    s.style.backgroundColor = colour; // CSSOM, allowed by the CSP (no style attribute in markup)
    return s;
  }

  function drawAreas(map, url, words) {
    return getJSON(url).then(function (data) {
      var layer = L.geoJSON(data, {
        pane: "areas",
        style: function (feature) {
          var open = (feature.properties && feature.properties.open) || 0;
          return { color: "#555", weight: 1.5, fillColor: shadeOf(open), fillOpacity: 0.55, className: "area" };
        },
        onEachFeature: function (feature, shape) {
          var tip = make("span");
          tip.appendChild(make("strong", null, feature.properties.name));
          tip.appendChild(document.createTextNode(" · " + words.open_legend + ": " + feature.properties.open));
          shape.bindTooltip(tip, { sticky: true });
        }
      }).addTo(map);
      legend(map, words.open_legend, function (box) {
        BREAKS.forEach(function (low, i) {
          var high = i + 1 < BREAKS.length ? BREAKS[i + 1] - 1 : null;
          var label = high === null ? low + "+" : (high === low ? String(low) : low + "–" + high);
          var row = make("div");
          row.appendChild(swatch(SHADES[i], false));
          row.appendChild(document.createTextNode(label));
          box.appendChild(row);
        });
      });
      return layer;
    });
  }

  function drawPins(map, url, settings, words) {
    var colours = {};
    (settings.colours || []).forEach(function (c) { colours[c.status] = c.colour; });
    return getJSON(url).then(function (data) {
      var layer = L.geoJSON(data, {
        pointToLayer: function (feature, latlng) {
          var status = feature.properties.status;
          return L.circleMarker(latlng, {
            radius: 7, color: "#ffffff", weight: 1.5, fillColor: colours[status] || "#333333", fillOpacity: 0.9,
            className: "pin pin-" + status
          });
        },
        onEachFeature: function (feature, marker) {
          marker.bindPopup(function () { return popupFor(feature.properties, words); });
        }
      }).addTo(map);
      if (data.omitted > 0) {
        note(String(words.omitted).replace("{n}", data.omitted).replace("{total}", data.total));
      } else if (!data.features || data.features.length === 0) {
        note(words.none);
      }
      map.getContainer().setAttribute("data-pins", String((data.features || []).length));
      return layer;
    });
  }

  function overview(el) {
    var settings = readJSON(el, "data-settings", {});
    var words = readJSON(el, "data-words", {});
    var made = baseMap(el);
    var map = made.map;
    if (settings.bounds) { map.fitBounds(settings.bounds); } else { map.setView([0, 0], 2); }
    map.createPane("areas").style.zIndex = 350; // under the pins (overlayPane is 400)
    legend(map, words.status_legend, function (box) {
      (settings.colours || []).forEach(function (c) {
        var row = make("div");
        row.appendChild(swatch(c.colour, true));
        row.appendChild(document.createTextNode(c.label));
        box.appendChild(row);
      });
    });
    var failed = function () { note(words.failed); };
    drawAreas(map, settings.areas, words)
      .catch(failed)
      .then(function () { return drawPins(map, settings.pins, settings, words); })
      .then(function () { el.setAttribute("data-ready", "1"); })
      .catch(function () { failed(); el.setAttribute("data-ready", "1"); });
  }

  function single(el) {
    var lat = parseFloat(el.getAttribute("data-lat"));
    var lon = parseFloat(el.getAttribute("data-lon"));
    if (!isFinite(lat) || !isFinite(lon)) { return; }
    var made = baseMap(el);
    made.map.setView([lat, lon], Math.min(15, made.maxZoom)); // streets, and a kecamatan border or two
    L.circleMarker([lat, lon], {
      radius: 9, color: "#ffffff", weight: 2, fillColor: "#d7301f", fillOpacity: 0.95, className: "pin"
    }).addTo(made.map);
    var areas = el.getAttribute("data-areas");
    var done = function () { el.setAttribute("data-ready", "1"); };
    if (!areas) { done(); return; }
    // the kecamatan outlines, for context when no tiles load (drawn under the pin)
    made.map.createPane("areas").style.zIndex = 350;
    getJSON(areas).then(function (data) {
      L.geoJSON(data, {
        pane: "areas",
        style: function () { return { color: "#555", weight: 1.5, fill: false, className: "area" }; },
        onEachFeature: function (feature, shape) {
          shape.bindTooltip(make("span", null, feature.properties.name), { sticky: true });
        }
      }).addTo(made.map);
    }).then(done, done);
  }

  function start() {
    if (typeof L === "undefined") { return; }
    var maps = document.querySelectorAll(".sikesal-map");
    for (var i = 0; i < maps.length; i += 1) {
      var el = maps[i];
      if (el.getAttribute("data-started")) { continue; } // the partial may load this script twice
      el.setAttribute("data-started", "1");
      try {
        if (el.getAttribute("data-mode") === "overview") { overview(el); } else { single(el); }
      } catch (e) {
        if (window.console) { window.console.error(e); }
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
