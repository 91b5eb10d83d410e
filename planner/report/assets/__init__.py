"""Static assets inlined into ``report.html`` (``map.js``, ``report.css``); a package so that
setuptools ships them as package data."""
