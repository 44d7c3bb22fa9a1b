"""Hand-written development companies (see README.md); `write_dev_set.py` turns them into JSONL."""

from __future__ import annotations

from typing import Any

# (id, name, what the company can supply (for the gold judgement), profile as an ILO would write it)
COMPANIES: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "vacutech",
        "VacuTech Delft B.V.",
        "UHV and high-vacuum systems: vacuum chambers and vessels, valves, bellows, flanges, pumping stations "
        "(they integrate pumps), gauges, leak testing",
        {
            "areas": ["vacuum"],
            "keywords": ['"vacuum chamber"', "UHV", "bellows", '"leak detection"', '-"NEG coating"'],
            "cpv_prefixes": ["42122450"],
        },
    ),
    (
        "cryoned",
        "Cryoned Systems B.V.",
        "cryogenic equipment: cryostats, cryogenic transfer lines, cryogenic valves, dewars, helium recovery; "
        "not the delivery of liquid gases",
        {"areas": ["cryogenics"], "keywords": ["cryostat", '"transfer line"', "cryogenic", '-"liquid nitrogen"']},
    ),
    (
        "precimotion",
        "Precimotion Eindhoven B.V.",
        "precision motion: positioning stages, hexapods, nanopositioning, piezo actuators, mechatronic modules",
        {"areas": ["precision_mechatronics"], "keywords": ["hexapod", '"motion stage"', "nanopositioning", "piezo"]},
    ),
    (
        "lumicoat",
        "LumiCoat Optics B.V.",
        "optical components and optical thin-film coatings: mirrors, lenses, windows, laser optics, AR/HR coatings",
        {"areas": ["optics_photonics"], "keywords": ['"optical coating"', '"mirror coating"', '"anti-reflection"']},
    ),
    (
        "signalforge",
        "Signal Forge B.V.",
        "electronics for data acquisition: FPGA boards, digitisers, readout electronics, custom PCBs, crates",
        {"areas": ["electronics_daq"], "keywords": ["FPGA", "digitizer OR digitiser", '"readout electronics"']},
    ),
    (
        "rfpower",
        "RF Power Nederland B.V.",
        "RF and microwave: solid-state RF amplifiers, RF power couplers, LLRF systems, waveguide components",
        {"areas": ["rf_microwave"], "keywords": ['"RF amplifier"', '"solid-state amplifier"', "LLRF", "waveguide"]},
    ),
    (
        "twentesc",
        "Twente Superconductors B.V.",
        "superconducting wire and cable (NbTi, Nb3Sn, HTS/REBCO), superconducting coil winding; "
        "not normal-conducting magnets",
        {
            "areas": ["magnets_superconductivity"],
            "keywords": [
                '"superconducting cable"',
                "Nb3Sn",
                "NbTi",
                "REBCO",
                "HTS",
                '-resistive -resistif -"normal conducting"',
            ],
        },
    ),
    (
        "brabantmach",
        "Brabant Precision Machining B.V.",
        "mechanical fabrication: CNC machining, welding, large stainless steel and aluminium parts, "
        "frames and mechanical assemblies",
        {"areas": ["mechanical_fabrication"], "keywords": ["machining", "welding"]},
    ),
    (
        "cleanspace",
        "CleanSpace Installations B.V.",
        "cleanrooms: design and construction of cleanrooms and clean zones, their HVAC and laminar-flow units",
        {"keywords": ["cleanroom", '"clean room"', '"laminar flow"', '-"cleaning services" -laundry']},
    ),
    (
        "orbitsoft",
        "Orbit Software Engineering B.V.",
        "custom software development: control system software (EPICS, Tango), data pipelines, web applications; "
        "no hardware, no resale of licences",
        {
            "keywords": ['"software development"', "EPICS", "Tango", '"data pipeline"', '"web application"'],
            "cpv_prefixes": ["7220"],
        },
    ),
    (
        "poldercivil",
        "Polder Civil Works B.V.",
        "civil engineering and construction works of at least EUR 1 million: buildings, foundations, tunnels, roads",
        {"areas": ["civil_engineering"], "cpv_prefixes": ["45"], "min_value": 1000000},
    ),
    (
        "voltconv",
        "Voltage Conversion Systems B.V.",
        "power electronics: magnet power converters, high-voltage power supplies, pulsed modulators; "
        "not electrical installation works",
        {
            "areas": ["power_electrical"],
            "keywords": [
                '"power converter"',
                '"power supply"',
                "modulator",
                '"high voltage"',
                '-"electrical installation" -busbar',
            ],
        },
    ),
    (
        "photondetect",
        "Photon Detect B.V.",
        "radiation and photon detectors and sensors: silicon sensors, SiPMs, photomultipliers, scintillators, "
        "X-ray detectors",
        {
            "areas": ["detectors_sensors"],
            "keywords": ["SiPM", "photomultiplier", "scintillator", '"X-ray detector"', '"silicon sensor"'],
        },
    ),
    (
        "remotehandling",
        "Lowlands Remote Handling B.V.",
        "robotics and remote handling for nuclear and fusion facilities: manipulators, remote handling tools",
        {"areas": ["robotics_remote_handling"], "keywords": ['"remote handling"', "manipulator"]},
    ),
    (
        "thermoflow",
        "ThermoFlow Engineering B.V.",
        "thermal and fluid systems: cooling water plants, heat exchangers, chillers, piping, HVAC",
        {"areas": ["thermal_fluids_utilities"], "keywords": ['"cooling water"', '"heat exchanger"', "chiller", "HVAC"]},
    ),
    (
        "astroinst",
        "Dutch Astro Instruments B.V.",
        "astronomical instrumentation for observatories: spectrographs, adaptive optics, instrument subsystems",
        {
            "areas": ["telescopes_astro_instrumentation"],
            "keywords": ["spectrograph", '"adaptive optics"'],
            "organisations": ["eso", "skao", "ctao", "astron", "sron", "jive", "esa"],
        },
    ),
    (
        "spacelow",
        "Lowlands Space Systems B.V.",
        "space hardware for ESA and SRON: satellite subsystems, star trackers, sun sensors, space-qualified parts",
        {
            "areas": ["space_systems"],
            "keywords": ["satellite", '"star tracker"', '"space qualified"'],
            "organisations": ["esa", "sron"],
        },
    ),
    (
        "biolab",
        "BioLab Supplies NL B.V.",
        "life-science laboratory equipment for EMBL, ESRF, ILL and XFEL: biosafety cabinets, incubators, "
        "centrifuges, sample handling",
        {
            "areas": ["lab_life_science"],
            "keywords": ['"laboratory equipment"', "centrifuge", "incubator"],
            "organisations": ["embl", "esrf", "ill", "xfel"],
        },
    ),
    (
        "fusioncomp",
        "Fusion Components B.V.",
        "fusion components for F4E, ITER, EUROfusion and DIFFER: plasma-facing components, tungsten parts, "
        "divertor, neutron shielding",
        {
            "areas": ["nuclear_fusion_radiation"],
            "keywords": ["tungsten", "divertor", '"plasma facing"', '"neutron shielding"'],
            "organisations": ["f4e", "iter", "eurofusion", "differ"],
        },
    ),
    (
        "beaminstr",
        "BeamInstruments B.V.",
        "beam instrumentation and diagnostics: beam position monitors, beam loss monitors, wire scanners",
        {
            "areas": ["accelerator_beam"],
            "keywords": [
                '"beam position monitor"',
                "BPM",
                '"beam loss monitor"',
                '"wire scanner"',
                '"beam instrumentation"',
            ],
        },
    ),
    (
        "automationpartners",
        "Automation Partners B.V.",
        "industrial control and automation: PLC, SCADA, interlock systems, control cabinets",
        {"areas": ["controls_automation"], "keywords": ["PLC", "SCADA", "interlock"]},
    ),
    (
        "datavault",
        "DataVault Systems B.V.",
        "IT hardware: HPC clusters, servers, storage systems, network equipment; no software development",
        {
            "areas": ["it_hpc_data"],
            "keywords": [
                "HPC",
                "server",
                '"storage system"',
                '"network switch"',
                '-"software development" -"web application" -licence -license -laptop',
            ],
        },
    ),
    (
        "deltaeng",
        "Delta Engineering Consultancy B.V.",
        "engineering services: mechanical design, FEA, technical studies, engineering staff on site",
        {
            "areas": ["engineering_rd_services"],
            "keywords": ['"engineering services"', '"finite element"', '"design study"', '"feasibility study"'],
        },
    ),
    (
        "surfacemat",
        "Surface Materials Technology B.V.",
        "functional coatings and surface treatment: NEG coatings, copper plating, thermal spray, thin films",
        {
            "areas": ["materials_coatings"],
            "keywords": ['"NEG coating"', '"thin film"', "electroplating", '"thermal spray"', '"surface treatment"'],
        },
    ),
    (
        "hollandfacility",
        "Facility Services Holland B.V.",
        "facility services in the Netherlands (ESTEC, NWO-I institutes, JIVE), contracts from EUR 50,000: "
        "cleaning, catering, security, facility management",
        {
            "keywords": ['"cleaning services"', "catering", '"facility management"', '"security services"'],
            "organisations": ["esa", "nikhef", "astron", "sron", "differ", "jive"],
            "min_value": 50000,
        },
    ),
]
