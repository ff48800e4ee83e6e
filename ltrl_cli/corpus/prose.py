"""The sentences demo pages are written with: stock sentences with slots, by purpose.

`{S}` is the page's own short name (a surname for a person, else its title), `{T}` a linked
entity's title (its anchor), `{M}` the name of an entity mentioned again, `{F}` its full
title; the other slots are filled from the page's theme, region and years.
"""

from __future__ import annotations

# A sentence that links to another page, by the kind of the page it links to.
LINK = {
    "person": ["{T} wrote about {S} in {year}.", "Accounts of {S} often mention {T}.",
               "In {year} {T} took a close interest in {S}.", "Contemporaries often compared {S} with {T}.",
               "Letters from {T} describe {S} at length.", "{T} spent the winter of {year} studying {S}.",
               "A portrait of {S} was made by {T} around {year}.", "{T} defended {S} against its critics."],
    "place": ["In {year} {S} was first connected with {T}.", "Records from {T} mention {S} several times.",
              "Visitors from {T} came to know {S} after {year}.", "Much of what is known of {S} was kept in {T}.",
              "Goods from {T} reached {S} by the {decade}s.", "A road between {S} and {T} was built in {year}.",
              "Families from {T} settled near {S} in {year}."],
    "region": ["{S} is often associated with {T}.", "Travellers from {T} brought news of {S} in {year}.",
               "The archives of {T} hold papers concerning {S}.", "The customs of {T} shaped {S} for a century.",
               "Maps of {T} from {year} already show {S}."],
    "organisation": ["{S} was connected with {T} from {year}.", "{T} published a study of {S} in {year}.",
                     "Members of {T} visited {S} on several occasions.", "{T} awarded {S} a medal in {year}.",
                     "Funds from {T} paid for work on {S} after {year}.", "{T} kept a register of {S} until {year}."],
    "work": ["{S} is mentioned in {T}.", "{T} draws on material about {S}.",
             "Critics have read {T} as a commentary on {S}.", "A chapter of {T} is devoted to {S}.",
             "{T}, finished in {year}, returns to {S} more than once.", "Readers of {T} first met {S} in {year}."],
}

# An entity linked earlier on the page, named again (not linked again, as encyclopedias do).
AGAIN = ["{M} is also remembered in connection with {S}.", "The correspondence between {S} and {M} lasted for years.",
         "{F} appears again in later accounts of {S}.", "Some historians give {M} a larger part in this than is usual.",
         "Not all sources agree on how closely {S} and {M} were tied.",
         "The link with {M} is discussed in most modern studies of {theme}.",
         "By {year} the name of {M} was linked with {S} in most accounts."]

# Prose without links, by section.
FILLER = {
    "early": ["In {year} the first records of {S} mention {thing}.",
              "During the {decade}s {S} came under the influence of the {demonym} tradition of {theme}.",
              "The early years are poorly documented, and much of what is known comes from later accounts.",
              "A fire in {year} destroyed many of the papers that would have told more.",
              "By {year} interest in {theme} had spread across {region}.",
              "Local chronicles from {year} describe {thing} and {thing2} in some detail.",
              "Little was written about this before {year}.",
              "Tax rolls of {year} give the first reliable figures.", "The {demonym} wars of the {decade}s left few traces here.",
              "Two surviving letters from {year} are the main source for this period.",
              "Trade in {thing} brought the first visitors from other parts of {region}.",
              "Early teachers insisted on {thing} before anything else."],
    "middle": ["Much of the work concerned {thing}, and later {thing2}.",
               "{S} became known for {adj} {things}, which were widely copied in {region}.",
               "Between {year} and {year2} the output grew steadily.",
               "A number of {people} from across {region} came to study {thing} there.",
               "The methods used for {thing} were unusual for the period.",
               "Several surviving {things} date from this time.",
               "Its reputation in {theme} grew steadily after {year}.",
               "Accounts of the period stress the importance of {theme}.",
               "Work on {thing} was interrupted in {year} and resumed only in {year2}.",
               "Orders for {thing} came from as far away as the coast.",
               "An inventory of {year} lists {thing} and {thing2} among the most valued possessions.",
               "The demand for {adj} {things} kept many {people} busy.",
               "Visitors in {year} praised the quality of the {thing}."],
    "late": ["Today {S} is remembered chiefly for a contribution to {theme}.",
             "A collection of {things} associated with {S} is kept in {region}.",
             "Modern scholars have returned to the subject several times since {year}.",
             "The name is still used for {adj} {things} in parts of {region}.",
             "Opinions differ on how much {S} owed to earlier work in {theme}.",
             "Later historians revised this view.", "The episode is recorded in several local chronicles.",
             "An exhibition on {thing} in {year} drew attention to the subject again.",
             "Several streets in {region} are named after figures of this story.",
             "A society for the study of {theme} was formed in {year}.",
             "The surviving {things} are now rare and much sought after.",
             "Guides of {region} still point out where {thing2} were once made."],
}

# Each kind's sections: heading and which filler bank its paragraphs draw on.
SECTIONS = {
    "person": [("Early life", "early"), ("Career", "middle"), ("Legacy", "late")],
    "place": [("History", "early"), ("Geography", "middle"), ("Culture", "late")],
    "region": [("History", "early"), ("Economy", "middle"), ("Culture", "late")],
    "organisation": [("History", "early"), ("Activities", "middle"), ("Legacy", "late")],
    "work": [("Background", "early"), ("Content", "middle"), ("Reception", "late")],
}

# The lead's further sentences, after the one that says what the entity is.
LEAD_MORE = ["{S} is best known for {thing}.", "Its story is closely tied to {theme} in {region}.",
             "Most of what is known dates from after {year}.", "{S} is often described in studies of {thing2}."]

ADJECTIVES = ["fine", "plain", "ornate", "durable", "early", "unusual", "large", "delicate", "celebrated", "costly"]

# Words of each theme, so pages of a theme share vocabulary (confusable search results).
THINGS = {
    "astronomy": ["star charts", "telescopes", "comet tables", "observatory ledgers", "eclipse records"],
    "shipbuilding": ["hull designs", "slipways", "oak timber", "dockyard cranes", "merchant ships"],
    "glassmaking": ["stained glass", "furnaces", "glass beads", "glass furnaces", "lenses"],
    "cartography": ["coastal maps", "surveys", "atlases", "boundary maps", "sea charts"],
    "opera": ["libretti", "stage designs", "arias", "overtures", "choruses"],
    "botany": ["herbaria", "seed collections", "greenhouses", "physic gardens", "rare orchids"],
    "railway engineering": ["viaducts", "locomotives", "signal boxes", "rail yards", "tunnels"],
    "textile weaving": ["looms", "dyed wool", "tapestries", "weaving sheds", "silk ribbons"],
    "ceramics": ["glazes", "kilns", "porcelain", "earthenware jugs", "tile work"],
    "chess": ["opening theory", "tournaments", "endgame studies", "chess problems", "correspondence games"],
    "mathematics": ["number tables", "proofs", "geometry", "lecture notes", "calculating machines"],
    "poetry": ["sonnets", "ballads", "verse letters", "elegies", "epic poems"],
    "medicine": ["hospitals", "remedies", "anatomy lessons", "surgical tools", "fever wards"],
    "brewing": ["malt houses", "hops", "cellars", "brewing vats", "barley ale"],
    "clockmaking": ["escapements", "pendulum clocks", "watch movements", "clock faces", "tower clocks"],
    "architecture": ["town halls", "bridges", "building plans", "vaulted halls", "arcades"],
    "painting": ["altarpieces", "landscapes", "portraits", "oil sketches", "frescoes"],
    "maritime law": ["salvage rights", "harbour courts", "shipping contracts", "maritime codes", "prize cases"],
    "mining": ["silver seams", "pit shafts", "ore mills", "mine carts", "drainage adits"],
    "printing": ["type foundries", "broadsheets", "presses", "woodcuts", "almanacs"],
    "falconry": ["hawks", "mews", "hunting grounds", "falconry manuals", "hooded falcons"],
    "bell founding": ["bell moulds", "church bells", "bronze casting", "foundry pits", "carillons"],
}
PEOPLE = {theme: f"{occupation}s" for theme, occupation in {
    "opera": "singer", "chess": "player", "poetry": "poet", "medicine": "physician", "painting": "painter",
}.items()}
