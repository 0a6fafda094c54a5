"""Proper names in Chinese: makers, countries, regions, common models, plants, places and
damage areas, as a Chinese buyer reads them on the search page and in an advertisement.

The VIN decoder (`vininfo`) and the sources write these in English ("FAW-Volkswagen",
"Sagitar 1.4T", "Shanghai"). They are names, not sentences, so they live here rather than in the
gettext catalogue: one mapping to keep up to date as makers and models are added. A name not
listed is shown as written, in either language.
"""

from carhistory.vehicles.formats import is_chinese

MAKERS = {
    "SAIC Volkswagen": "上汽大众",
    "FAW-Volkswagen": "一汽-大众",
    "Volkswagen": "大众",
    "Changan Ford": "长安福特",
    "Ford": "福特",
    "GAC Toyota": "广汽丰田",
    "FAW Toyota": "一汽丰田",
    "Toyota": "丰田",
    "GAC Honda": "广汽本田",
    "Dongfeng Honda": "东风本田",
    "Honda": "本田",
    "Dongfeng Nissan": "东风日产",
    "Nissan": "日产",
    "SAIC-GM": "上汽通用",
    "SAIC GM": "上汽通用",
    "Buick": "别克",
    "Chevrolet": "雪佛兰",
    "Cadillac": "凯迪拉克",
    "Brilliance BMW": "华晨宝马",
    "BMW": "宝马",
    "Beijing Benz": "北京奔驰",
    "Mercedes-Benz": "梅赛德斯-奔驰",
    "Audi": "奥迪",
    "Porsche": "保时捷",
    "Skoda": "斯柯达",
    "Beijing Hyundai": "北京现代",
    "Hyundai": "现代",
    "Kia": "起亚",
    "Mazda": "马自达",
    "Subaru": "斯巴鲁",
    "Mitsubishi": "三菱",
    "Lexus": "雷克萨斯",
    "Volvo": "沃尔沃",
    "Land Rover": "路虎",
    "Jaguar": "捷豹",
    "Peugeot": "标致",
    "Citroen": "雪铁龙",
    "Renault": "雷诺",
    "Fiat": "菲亚特",
    "Jeep": "吉普",
    "Lincoln": "林肯",
    "Tesla": "特斯拉",
    "BYD": "比亚迪",
    "Geely": "吉利",
    "Chery": "奇瑞",
    "Great Wall": "长城",
    "Changan": "长安",
    "SAIC": "上汽",
    "FAW": "一汽",
    "Dongfeng": "东风",
    "GAC": "广汽",
    "BAIC": "北汽",
    "NIO": "蔚来",
    "Li Auto": "理想",
    "XPeng": "小鹏",
}

COUNTRIES = {
    "China": "中国",
    "United States": "美国",
    "Canada": "加拿大",
    "Mexico": "墨西哥",
    "Brazil": "巴西",
    "Germany": "德国",
    "France": "法国",
    "Italy": "意大利",
    "Spain": "西班牙",
    "United Kingdom": "英国",
    "Sweden": "瑞典",
    "Belgium": "比利时",
    "Netherlands": "荷兰",
    "Austria": "奥地利",
    "Czech Republic": "捷克",
    "Slovakia": "斯洛伐克",
    "Hungary": "匈牙利",
    "Poland": "波兰",
    "Russia": "俄罗斯",
    "Turkey": "土耳其",
    "Japan": "日本",
    "South Korea": "韩国",
    "Korea (South)": "韩国",
    "India": "印度",
    "Thailand": "泰国",
    "Australia": "澳大利亚",
    "South Africa": "南非",
}

REGIONS = {
    "Asia": "亚洲",
    "Europe": "欧洲",
    "North America": "北美洲",
    "South America": "南美洲",
    "Africa": "非洲",
    "Oceania": "大洋洲",
}

# The series name a model's full name starts with: "Sagitar 1.4T" reads "速腾 1.4T".
MODELS = {
    "Sagitar": "速腾",
    "Lavida": "朗逸",
    "Passat": "帕萨特",
    "Magotan": "迈腾",
    "Bora": "宝来",
    "Jetta": "捷达",
    "Santana": "桑塔纳",
    "Tiguan": "途观",
    "Golf": "高尔夫",
    "Camry": "凯美瑞",
    "Corolla": "卡罗拉",
    "Levin": "雷凌",
    "RAV4": "RAV4荣放",
    "Accord": "雅阁",
    "Civic": "思域",
    "CR-V": "CR-V",
    "Sylphy": "轩逸",
    "Focus": "福克斯",
    "Mondeo": "蒙迪欧",
    "Escort": "福睿斯",
    "Excelle": "英朗",
    "Regal": "君威",
    "LaCrosse": "君越",
    "Model 3": "Model 3",
}

# Plants, cities and provinces the sources name.
PLACES = {
    "Anting": "安亭",
    "Changchun": "长春",
    "Foshan": "佛山",
    "Chengdu": "成都",
    "Shanghai": "上海",
    "Beijing": "北京",
    "Tianjin": "天津",
    "Chongqing": "重庆",
    "Guangzhou": "广州",
    "Shenzhen": "深圳",
    "Hangzhou": "杭州",
    "Nanjing": "南京",
    "Suzhou": "苏州",
    "Wuhan": "武汉",
    "Jiangsu": "江苏",
    "Zhejiang": "浙江",
    "Guangdong": "广东",
    "Shandong": "山东",
    "Hebei": "河北",
    "Sichuan": "四川",
}

# Where damage was and what was repaired, in the words the insurers and workshops send.
AREAS = {
    "front": "前部",
    "rear": "后部",
    "left side": "左侧",
    "right side": "右侧",
    "roof": "车顶",
    "underbody": "底盘",
    "engine": "发动机",
    "brakes": "制动系统",
    "front subframe": "前副车架",
    "rear bumper cover": "后保险杠蒙皮",
    "collision": "碰撞",
}

_ALL = {**MAKERS, **COUNTRIES, **REGIONS, **PLACES, **AREAS}


def localised(name: object) -> str:
    """`name` in the reader's language when it is one we know, else as written."""
    if name is None:
        return ""
    text = str(name)
    if not is_chinese():
        return text
    if text in _ALL:
        return _ALL[text]
    return model_name(text)


def model_name(text: str) -> str:
    """A model's name with its series in Chinese: "Sagitar 1.4T" -> "速腾 1.4T"."""
    for series in sorted(MODELS, key=len, reverse=True):
        if text == series or text.startswith(series + " "):
            return MODELS[series] + text[len(series) :]
    return text
