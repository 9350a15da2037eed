/*
 * assets.h - the fixed part of the report page: report.html with
 * report.css and report.js inlined, split where the page's data goes.
 * Generated at build time by embed.py (report-assets.c).
 */
#ifndef ASNAP_RENDER_REPORT_ASSETS_H
#define ASNAP_RENDER_REPORT_ASSETS_H

#include <stddef.h>

/* Everything before the JSON data, and everything after it. */
extern const unsigned char asnap_report_head[];
extern const size_t asnap_report_head_len;
extern const unsigned char asnap_report_tail[];
extern const size_t asnap_report_tail_len;

#endif
